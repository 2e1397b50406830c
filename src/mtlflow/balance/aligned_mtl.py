"""Aligned-MTL: align the task gradients' principal components."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import as_gradients, combine, gram
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState


def aligned_weights(a: tf.Tensor) -> tf.Tensor:
    """``w = B 1`` with ``B = σ_min · V Λ^{-1/2} Vᵀ`` from ``A = V Λ Vᵀ`` (``[T, T]`` Gram).

    Eigenvalues below ``max(λ) · T · ε_float32`` are treated as zero (the pseudo-inverse
    over the rank-``r`` part), and ``σ_min = √λ_min`` over the kept ones. With all
    gradients zero, ``w = 1``.
    """
    t = a.shape[0]
    eigenvalues, v = tf.linalg.eigh(a)
    tol = tf.reduce_max(eigenvalues) * t * 1.1920929e-07
    kept = eigenvalues > tol
    inverse_sqrt = tf.where(kept, tf.math.rsqrt(tf.where(kept, eigenvalues, 1.0)), 0.0)
    smallest = tf.reduce_min(tf.where(kept, eigenvalues, tf.float32.max))
    b = tf.sqrt(smallest) * tf.matmul(v * inverse_sqrt[None, :], v, transpose_b=True)
    return tf.where(tf.reduce_any(kept), tf.reduce_sum(b, axis=1), tf.ones([t]))


def aligned_mtl() -> Balancer:
    """Aligned-MTL: make the task gradients orthogonal and of equal size, then sum them.

    With the SVD ``G = U Σ Vᵀ`` of the ``[T, P]`` task-gradient matrix, Aligned-MTL
    replaces ``G`` by ``Ĝ = σ_min U Vᵀ`` — every principal component rescaled to the
    smallest singular value, so the gradient system has condition number 1 and no
    component dominates — and steps along ``Σ_t ĝ_t``. Since ``Ĝ = B G`` with
    ``B = σ_min U Σ⁻¹ Uᵀ``, everything follows from the eigendecomposition of the Gram
    matrix ``G Gᵀ = U Σ² Uᵀ`` (``tf.linalg.eigh``): ``d = wᵀ G`` with ``w = B 1``. Gradient
    directions with a zero singular value are dropped (rank-deficient ``G``).

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Senushkin, Patakin, Kuznetsov & Konushin, "Independent Component Alignment for
      Multi-Task Learning", CVPR 2023.

    Example::

        balancer = aligned_mtl()
        result, _ = balancer.update(losses=losses, gradients=tf.constant([[2.0, 0.0], [0.0, 1.0]]),
                                    state=balancer.init(2))
        # result.shared_gradient == [1.0, 1.0]
    """

    def update(*, state, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "aligned_mtl")
        weights = aligned_weights(gram(gradients))
        return BalanceResult(weights, combine(weights, gradients)), state

    return Balancer("aligned_mtl", lambda num_tasks: EmptyState(), update, needs_gradients=True, config={})
