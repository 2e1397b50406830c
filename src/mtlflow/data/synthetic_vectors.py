"""Synthetic 768-d "sentence vectors" with an intent and keywords in them (dense-input demo).

Stands in for the output of a sentence encoder (e.g. a BERT model's pooled 768-d vector)
over customer-service requests, with the structure a classifier on such vectors exploits::

    world      intent centroids μ_k = r·u_k, keyword directions d_j, a shared offset m,
               S: 32 nuisance directions (topic, style, length — variance with no label)
               (u_k, d_j, S random unit vectors in R^768: nearly orthogonal)
    keywords   K ⊆ keywords, each j in K with probability P[k, j]: an intent's typical
               keywords are likely (0.6), the others rare (0.04), so the two tasks are related
    vector     x = m + μ_k + a·Σ_{j∈K} d_j + S·z + σ·ε,   z ~ N(0, s²·I₃₂), ε ~ N(0, I₇₆₈)

The labels are the intent ``k`` (multiclass) and the keyword set ``K`` (multi-label,
often empty). Along any one direction the noise has standard deviation about σ, so the
defaults (r = 0.12, a = 0.18, σ = 0.035) put two intents' centroids (r·√2 apart) and a
keyword's presence and absence (a apart) each about 2.5σ from their midpoint: learnable,
not separable (an MLP on 6,000 vectors reaches about 0.9 on both tasks). The offset ``m`` mimics the
anisotropy of real encoder outputs (every vector shares a large common component).

The splits are written as JSON Lines, ``{"vector": [...768 numbers...], "intent": "...",
"keywords": [...]}`` (``[]``: labelled, no keyword), the layout the ``sentence_vectors``
template reads.

Example:
  >>> data = sentence_vectors(100, seed=1)
  >>> data["vector"].shape
  (100, 768)
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

INTENTS: tuple[str, ...] = ("cancel_order", "query_order", "change_address", "refund", "complaint",
                            "query_logistics", "invoice", "change_payment", "product_question", "coupon")
KEYWORDS: tuple[str, ...] = ("order", "delivery", "address", "money_back", "payment", "invoice", "coupon",
                             "size", "broken", "urgent", "phone", "membership")
# The keywords typical of each intent (drawn with probability 0.6; others with 0.04).
TYPICAL: dict[str, tuple[str, ...]] = {
    "cancel_order": ("order", "money_back"),
    "query_order": ("order", "delivery"),
    "change_address": ("address", "delivery", "phone"),
    "refund": ("money_back", "payment", "broken"),
    "complaint": ("broken", "urgent", "delivery"),
    "query_logistics": ("delivery", "urgent"),
    "invoice": ("invoice", "payment"),
    "change_payment": ("payment", "order"),
    "product_question": ("size", "broken"),
    "coupon": ("coupon", "membership", "payment"),
}
SPLITS = {"train": (6_000, 1), "validation": (1_000, 2), "test": (2_000, 3)}  # rows, seed


def sentence_vectors(n: int, *, dim: int = 768, centroid_norm: float = 0.12, keyword_strength: float = 0.18,
                     noise: float = 0.035, nuisance: float = 0.1, nuisance_rank: int = 32,
                     typical_rate: float = 0.6, other_rate: float = 0.04,
                     seed: int = 0, world_seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` vectors with labels: ``vector`` ``[n, dim]`` float32, ``intent`` (names) and
    ``keywords`` (an object array of lists of names).

    Args:
      n: examples (> 0). dim: vector size (768, a BERT-base pooled output).
      centroid_norm: r, the distance of every intent centroid from the common offset.
      keyword_strength: a, the length of a keyword's contribution.
      noise: σ, isotropic noise per dimension. nuisance / nuisance_rank: the standard
        deviation s and number of the directions of label-free variance.
      typical_rate / other_rate: P(keyword | intent) for typical / other keywords.
      seed: draws the examples; world_seed: draws the centroids and directions (keep it
        fixed across train / validation / test).
    """
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"Argument `n` must be a positive integer. Received: n={n!r}")
    if dim < len(INTENTS) + len(KEYWORDS):
        raise ValueError(f"Argument `dim` must be at least {len(INTENTS) + len(KEYWORDS)}. Received: dim={dim}")
    for name, rate in (("typical_rate", typical_rate), ("other_rate", other_rate)):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"Argument `{name}` must be in [0, 1]. Received: {name}={rate}")
    world = np.random.default_rng(world_seed)
    centroids = centroid_norm * _unit_rows(world.normal(size=(len(INTENTS), dim)))
    directions = _unit_rows(world.normal(size=(len(KEYWORDS), dim)))
    offset = 0.5 * _unit_rows(world.normal(size=(1, dim)))[0]
    subspace = _unit_rows(world.normal(size=(nuisance_rank, dim)))
    rates = np.array([[typical_rate if kw in TYPICAL[intent] else other_rate for kw in KEYWORDS]
                      for intent in INTENTS])

    rng = np.random.default_rng(seed)
    intent = rng.integers(0, len(INTENTS), n)
    has = rng.random((n, len(KEYWORDS))) < rates[intent]
    x = (offset + centroids[intent] + keyword_strength * has.astype(float) @ directions
         + rng.normal(0.0, nuisance, (n, nuisance_rank)) @ subspace + rng.normal(0.0, noise, (n, dim)))
    keywords = np.empty(n, dtype=object)
    for i in range(n):
        keywords[i] = [KEYWORDS[j] for j in np.flatnonzero(has[i])]
    return {"vector": x.astype(np.float32), "intent": np.array(INTENTS)[intent], "keywords": keywords}


def _unit_rows(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def write_jsonl(data: dict[str, np.ndarray], path: str | Path, decimals: int = 4) -> Path:
    """Writes one ``{"vector", "intent", "keywords"}`` object per line (temporary file, then renamed)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for vector, intent, keywords in zip(data["vector"], data["intent"], data["keywords"]):
            numbers = ",".join(f"{v:.{decimals}f}" for v in vector)
            f.write(f'{{"vector": [{numbers}], "intent": {json.dumps(str(intent))}, '
                    f'"keywords": {json.dumps(list(keywords))}}}\n')
    os.replace(tmp, path)
    return path


def write_splits(out_dir: str | Path, *, scale: float = 1.0, seed: int = 0) -> dict[str, Path]:
    """Writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` (6,000 / 1,000 / 2,000
    vectors × ``scale``, one world) under ``out_dir``; returns their paths by split."""
    if scale <= 0:
        raise ValueError(f"Argument `scale` must be positive. Received: scale={scale}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {split: write_jsonl(sentence_vectors(max(1, int(round(rows * scale))), seed=1000 * seed + split_seed,
                                                world_seed=seed), out / f"{split}.jsonl")
            for split, (rows, split_seed) in SPLITS.items()}


def main(argv: list[str] | None = None) -> int:
    """``python -m mtlflow.data.synthetic_vectors --out DIR [--scale S] [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for train/validation/test.jsonl")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the split sizes (6,000 / 1,000 / 2,000)")
    parser.add_argument("--seed", type=int, default=0, help="another world and draw")
    args = parser.parse_args(argv)
    for path in write_splits(args.out, scale=args.scale, seed=args.seed).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
