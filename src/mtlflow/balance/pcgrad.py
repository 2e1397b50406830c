"""PCGrad: projecting conflicting gradients."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, check, combine, gram
from mtlflow.balance.base import BalanceResult, Balancer


class PCGradState(NamedTuple):
    key: tf.Tensor  # [2] int64: (seed, step) for the stateless RNG


def pcgrad(seed: int = 0) -> Balancer:
    """Gradient surgery: remove from each task gradient its conflict with the others.

    For each task ``i``, start from ``g_i^PC = g_i`` and visit the other tasks ``j`` in a
    random order; whenever ``g_i^PC · g_j < 0``, project onto the normal plane of ``g_j``::

        g_i^PC ← g_i^PC - (g_i^PC · g_j) / ‖g_j‖² · g_j

    The shared parameters follow ``Σ_i g_i^PC``. Every projection is a linear combination
    of task gradients, so the method runs on the Gram matrix ``G Gᵀ`` and tracks the
    coefficients: ``weights`` are exact (``shared_gradient == weights @ gradients``).
    The orders are a stateless function of ``(seed, step)``.

    Args:
      seed: integer seed of the visiting orders (default 0).

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Yu, Kumar, Gupta, Levine, Hausman & Finn, "Gradient Surgery for Multi-Task
      Learning", NeurIPS 2020.

    Example::

        balancer = pcgrad(seed=0)
        result, state = balancer.update(losses=losses, gradients=tf.constant([[1.0, 0.0], [-1.0, 1.0]]),
                                        state=balancer.init(2))
        # result.shared_gradient == [0.5, 1.5]
    """
    check("seed", seed, isinstance(seed, int) and not isinstance(seed, bool), "must be an integer")

    def init(num_tasks: int) -> PCGradState:
        del num_tasks
        return PCGradState(key=tf.constant([seed, 0], tf.int64))

    def update(*, state: PCGradState, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "pcgrad")
        t = gradients.shape[0]
        a = gram(gradients)
        squared_norms = tf.linalg.diag_part(a)
        # order[i]: the order in which task i visits the tasks (itself skipped below).
        order = tf.argsort(tf.random.stateless_uniform([t, t], seed=state.key), axis=1)
        coefficients = tf.eye(t)  # row i: g_i^PC = coefficients[i] @ gradients
        rows = tf.range(t)
        for k in range(t):
            j = order[:, k]
            dots = tf.gather(tf.matmul(coefficients, a), j, batch_dims=1)  # g_i^PC · g_j
            conflict = (dots < 0) & (j != rows)
            step = tf.where(conflict, dots / tf.maximum(tf.gather(squared_norms, j), EPS), 0.0)
            coefficients -= step[:, None] * tf.one_hot(j, t)
        weights = tf.reduce_sum(coefficients, axis=0)
        new_state = PCGradState(state.key + tf.constant([0, 1], tf.int64))
        return BalanceResult(weights, combine(weights, gradients)), new_state

    return Balancer("pcgrad", init, update, needs_gradients=True, config={"seed": seed})
