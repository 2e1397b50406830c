"""Impressions → clicks → conversions with a known conversion probability (for ESMM).

Ma et al., "Entire Space Multi-Task Model", SIGIR 2018, name two problems of a CVR model
trained on clicked impressions only: *sample selection bias* (it is trained on clicks but
used on all impressions) and *data sparsity* (clicks are few). This generator makes both
measurable, because the true conversion probability of every impression is known::

    x = (numeric z ∈ R^k, categorical c₁..c_j)       latent u = A·z + Σ_j emb_j[c_j]
    p_ctr(x) = σ(a·u + b_ctr)                        click ~ Bernoulli(p_ctr)
    p_cvr(x) = σ(v·u + b_cvr)                        converted_if_clicked ~ Bernoulli(p_cvr)
    buy = click · converted_if_clicked                (observed: conversion only after a click)

``v`` is partly aligned with ``a`` (``overlap``), so clicked impressions are a biased
sample of the conversion space. Every row carries ``p_cvr_true`` and ``conversion_true``
(whether it would convert if clicked) for evaluation over the entire space.
"""

from __future__ import annotations

import numpy as np


def ctr_cvr_synthetic(n: int, *, numeric: int = 8, categorical: int = 4, cardinality: int = 20,
                      latent: int = 8, ctr_bias: float = -3.0, cvr_bias: float = -1.0,
                      overlap: float = 0.5, seed: int = 0, world_seed: int = 0) -> dict[str, np.ndarray]:
    """Columns ``n0..``, ``c0..``, ``click``, ``buy``, ``p_ctr_true``, ``p_cvr_true``, ``conversion_true``.

    Args:
      n: impressions. ``ctr_bias`` sets the click rate (−3 → about 19%).
      overlap: cosine between the click and conversion directions in the latent space
        (0: conversion independent of clicking; 1: the same features drive both).
      seed: draws the impressions; world_seed: draws the model of the world (the same
        world for train/validation/test splits drawn with different ``seed``).

    Example:
      >>> rows = ctr_cvr_synthetic(1000, seed=1)
      >>> sorted(rows)[:3]
      ['buy', 'c0', 'c1']
    """
    if not 0.0 <= overlap <= 1.0:
        raise ValueError(f"Argument `overlap` must be in [0, 1]. Received: overlap={overlap}")
    world = np.random.default_rng(world_seed)
    mix = world.normal(size=(numeric, latent)) / np.sqrt(numeric)
    embeddings = world.normal(scale=0.7, size=(categorical, cardinality, latent))
    a = _unit(world.normal(size=latent))
    orthogonal = _unit(_reject(world.normal(size=latent), a))
    v = overlap * a + np.sqrt(1.0 - overlap**2) * orthogonal
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, numeric))
    codes = rng.integers(0, cardinality, size=(n, categorical))
    u = z @ mix + sum(embeddings[j][codes[:, j]] for j in range(categorical))
    p_ctr = _sigmoid(2.0 * u @ a + ctr_bias)
    p_cvr = _sigmoid(2.0 * u @ v + cvr_bias)
    click = rng.random(n) < p_ctr
    converts = rng.random(n) < p_cvr
    columns: dict[str, np.ndarray] = {f"n{i}": z[:, i].astype(np.float32) for i in range(numeric)}
    columns.update({f"c{j}": np.array([f"v{c}" for c in codes[:, j]]) for j in range(categorical)})
    columns.update(click=click.astype(np.int32), buy=(click & converts).astype(np.int32),
                   p_ctr_true=p_ctr.astype(np.float32), p_cvr_true=p_cvr.astype(np.float32),
                   conversion_true=converts.astype(np.int32))
    return columns


def write_csv(columns: dict[str, np.ndarray], path) -> None:
    """Writes the columns as a CSV file with a header."""
    import csv

    names = list(columns)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(names)
        for row in zip(*(columns[c] for c in names)):
            writer.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in row])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _unit(v):
    return v / np.linalg.norm(v)


def _reject(v, direction):
    return v - (v @ direction) * direction
