"""Two regression tasks with a controlled correlation: the MMoE paper's synthetic data.

Ma et al., "Modeling Task Relationships in Multi-task Learning with Multi-gate
Mixture-of-Experts", KDD 2018, §3.2. With unit vectors ``u₁ ⊥ u₂`` in ``R^d``::

    w₁ = c·u₁,   w₂ = c·(p·u₁ + √(1−p²)·u₂)          (so cos(w₁, w₂) = p)
    x ~ N(0, I_d)
    y_k = w_kᵀx + Σ_{i=1..m} sin(α_i·w_kᵀx + β_i) + ε_k,   ε_k ~ N(0, 0.01)

The sine terms make the tasks non-linear, so the Pearson correlation of the labels is
below ``p`` but falls with it. The paper does not publish its α, β; here they are drawn
once per dataset from N(0, 1) with ``shape_seed`` (the same for every ``p``, so only the
correlation changes between datasets), with c = 1, m = 10, d = 100.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SyntheticTasks(NamedTuple):
    x: np.ndarray  # [n, d] float32
    y1: np.ndarray  # [n] float32
    y2: np.ndarray  # [n] float32
    weights: np.ndarray  # [2, d]: w₁, w₂


def mmoe_synthetic(n: int, correlation: float, *, dim: int = 100, scale: float = 1.0, sines: int = 10,
                   seed: int = 0, shape_seed: int = 0, noise_std: float = 0.1) -> SyntheticTasks:
    """``n`` examples of the two tasks with weight-vector cosine ``correlation``.

    Args:
      n: number of examples.
      correlation: ``p ∈ [-1, 1]``, the cosine of the tasks' weight vectors.
      dim: input dimension ``d``; scale: ``c``; sines: ``m``.
      seed: draws the unit vectors, inputs and noise.
      shape_seed: draws the sine parameters α, β (keep it fixed across ``correlation``).
      noise_std: standard deviation of ``ε`` (0.1, i.e. variance 0.01, as in the paper).

    Example:
      >>> data = mmoe_synthetic(1000, 0.5)
      >>> data.x.shape, data.y1.shape
      ((1000, 100), (1000,))
    """
    if not -1.0 <= correlation <= 1.0:
        raise ValueError(f"Argument `correlation` must be in [-1, 1]. Received: correlation={correlation}")
    if n <= 0 or dim < 2:
        raise ValueError(f"Arguments `n` and `dim` must be positive (dim >= 2). Received: n={n}, dim={dim}")
    shapes = np.random.default_rng(shape_seed)
    alpha, beta = shapes.normal(size=sines), shapes.normal(size=sines)
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.normal(size=(dim, 2)))
    u1, u2 = basis[:, 0], basis[:, 1]
    w1 = scale * u1
    w2 = scale * (correlation * u1 + np.sqrt(1.0 - correlation**2) * u2)
    x = rng.normal(size=(n, dim))

    def target(w):
        z = x @ w
        return z + np.sin(np.outer(z, alpha) + beta).sum(axis=1) + rng.normal(scale=noise_std, size=n)

    return SyntheticTasks(x.astype(np.float32), target(w1).astype(np.float32), target(w2).astype(np.float32),
                          np.stack([w1, w2]))
