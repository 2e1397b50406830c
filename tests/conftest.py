"""Shared fixtures: a small synthetic corpus with one learnable signal per task type."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FILLER = [f"w{i}" for i in range(40)]
CLASSES = ["alpha", "beta", "gamma", "delta"]
MARKERS = {"red": "mred", "green": "mgreen", "blue": "mblue"}


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    """Whitespace-tokenised texts whose words determine every task's label.

    * ``topic`` (multiclass): the class word present (alpha/beta/gamma/delta);
    * ``colors`` (multilabel): the marker words present (mred/mgreen/mblue);
    * ``flag`` (binary): 1 when the word ``yes`` is present;
    * ``score`` (regression): the number of ``up`` words, plus small noise;
    * ``tags`` (tagging): ``B-item I-item`` on the ``xa xb`` pair, ``B-place`` on ``town``.
    About 30% of rows have no ``flag`` label (null), so masking is exercised.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 7))]
        topic = rng.choice(CLASSES)
        colors = sorted(c for c in MARKERS if rng.random() < 0.4)
        flag = int(rng.random() < 0.5)
        ups = rng.randint(0, 3)
        extra = [topic] + [MARKERS[c] for c in colors] + ["yes"] * flag + ["up"] * ups
        if rng.random() < 0.6:
            extra += ["xa xb"]
        if rng.random() < 0.4:
            extra += ["town"]
        for item in extra:
            words.insert(rng.randint(0, len(words)), item)
        tokens = " ".join(words).split()
        tags, i = [], 0
        while i < len(tokens):
            if tokens[i] == "xa" and i + 1 < len(tokens) and tokens[i + 1] == "xb":
                tags += ["B-item", "I-item"]
                i += 2
                continue
            tags.append("B-place" if tokens[i] == "town" else "O")
            i += 1
        rows.append({
            "text": " ".join(tokens),
            "tags": tags,
            "topic": topic,
            "colors": colors,
            "flag": flag if rng.random() > 0.3 else None,
            "score": ups + rng.gauss(0, 0.1),
        })
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


SYNTHETIC_CONFIG = """
data:
  format: jsonl
  train: train.jsonl
  validation: validation.jsonl
  test: test.jsonl
inputs:
  text: {{tokenizer: whitespace, max_length: 32}}
encoder: {{type: {encoder}, embedding_dim: 32, units: 32, dropout: 0.0}}
sharing: {{type: hard}}
tasks:
  - {{name: topic, type: multiclass}}
  - {{name: colors, type: multilabel}}
  - {{name: flag, type: binary}}
  - {{name: score, type: regression}}
  - {{name: tags, type: tagging}}
training:
  epochs: {epochs}
  batch_size: 32
  learning_rate: 0.01
  seed: 7
  early_stopping: null
"""


def write_synthetic_project(directory: Path, n_train: int = 600, epochs: int = 14, encoder: str = "bilstm") -> Path:
    """Writes train/validation/test JSONL and a config using all five task types."""
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(synthetic_rows(n_train, seed=1), directory / "train.jsonl")
    write_jsonl(synthetic_rows(150, seed=2), directory / "validation.jsonl")
    write_jsonl(synthetic_rows(200, seed=3), directory / "test.jsonl")
    config = directory / "config.yaml"
    config.write_text(SYNTHETIC_CONFIG.format(epochs=epochs, encoder=encoder), "utf-8")
    return config


@pytest.fixture(scope="session")
def trained_synthetic(tmp_path_factory):
    """One trained synthetic run shared by the tests that only read it."""
    from mtlflow.run import train

    root = tmp_path_factory.mktemp("synthetic")
    config = write_synthetic_project(root / "project")
    run, metrics = train(config, root / "run", verbose=False)
    return run, metrics
