"""``mtlflow embed``: sentence vectors from a pretrained encoder, as a data column.

The pattern of many production NLU stacks: one (frozen) sentence encoder turns each text
into a fixed vector, and a light multi-task model reads the vectors
(``inputs.dense``; ``mtlflow init sentence_vectors``). This writes those vectors: every
row of the input file is copied to a JSON Lines output with one more field holding its
text's vector — the mean of the encoder's piece states over real pieces, as
sentence-transformers models are trained (Reimers and Gurevych, EMNLP 2019), L2-normalised
when the checkpoint's ``modules.json`` lists a ``Normalize`` module (or ``--normalize``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from mtlflow.data.readers import read_table
from mtlflow.errors import DataError


def checkpoint_normalizes(path: str | Path) -> bool:
    """Whether a sentence-transformers checkpoint ends with a ``Normalize`` module."""
    modules = Path(path) / "modules.json"
    if not modules.is_file():
        return False
    try:
        return any("Normalize" in str(m.get("type", "")) for m in json.loads(modules.read_text("utf-8")))
    except (ValueError, AttributeError):
        return False


class SentenceEmbedder:
    """``texts → [n, width]`` float32 sentence vectors from a local BERT checkpoint."""

    def __init__(self, path: str | Path, normalize: bool | None = None, max_length: int = 256):
        from mtlflow.model.pretrained import PretrainedEncoder, read_checkpoint
        from mtlflow.model.wordpiece import WordPieceTokenizer

        info = read_checkpoint(path)
        self.tokenizer = WordPieceTokenizer(str(info.vocab_path), lowercase=info.lowercase,
                                            max_length=min(max_length, info.max_length))
        self.encoder = PretrainedEncoder(str(path), pooling="mean", dropout=0.0)
        self.normalize = checkpoint_normalizes(path) if normalize is None else normalize
        self.width = info.width

    def __call__(self, texts: list[str]):
        import tensorflow as tf

        ids = self.tokenizer(tf.constant(texts, tf.string))["token_ids"]
        _, pooled = self.encoder(ids, training=False)
        if self.normalize:
            pooled = tf.math.l2_normalize(pooled, axis=-1)
        return pooled.numpy()


def embed_file(encoder: str | Path, source: str | Path, target: str | Path, *, column: str = "text",
               output_column: str = "vector", batch_size: int = 64, normalize: bool | None = None,
               log=print) -> int:
    """Writes ``target`` (JSON Lines): ``source``'s rows plus ``output_column``; returns the row count.

    The output is written to a temporary file and renamed when complete.
    """
    table = read_table(source)
    if column not in table.columns:
        raise DataError(f"{source}: no column {column!r}; columns: {', '.join(table.columns)} (pick one with --column)")
    texts = []
    for row, location in zip(table.rows, table.locations):
        value = row.get(column)
        if not isinstance(value, str):
            raise DataError(f"{location}: column {column!r} must be text, got {value!r}")
        texts.append(value)
    embedder = SentenceEmbedder(encoder, normalize=normalize)
    # Sort by length so each batch pads little; write back in file order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    vectors = np.zeros((len(texts), embedder.width), np.float32)
    began, last = time.perf_counter(), 0.0
    for start in range(0, len(order), batch_size):
        index = order[start : start + batch_size]
        vectors[index] = embedder([texts[i] for i in index])
        now = time.perf_counter() - began
        if now - last > 5 or start + batch_size >= len(order):
            done = min(start + batch_size, len(order))
            log(f"mtlflow embed: {done}/{len(order)} texts ({done / max(now, 1e-9):.0f}/s)")
            last = now
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with open(partial, "w", encoding="utf-8") as f:
        for row, vector in zip(table.rows, vectors):
            f.write(json.dumps({**row, output_column: [round(float(x), 6) for x in vector]}, ensure_ascii=False) + "\n")
    os.replace(partial, target)
    return len(texts)
