"""MGDA: the min-norm point of the convex hull of the task gradients."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, check_int, combine, gram
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState


def _segment(aa, ab, bb):
    """The ``γ ∈ [0, 1]`` minimising ``‖γ a + (1-γ) b‖²`` given the three inner products."""
    return tf.clip_by_value((bb - ab) / tf.maximum(aa + bb - 2.0 * ab, EPS), 0.0, 1.0)


def min_norm_weights(a: tf.Tensor, iterations: int = 250) -> tf.Tensor:
    """``argmin_{w ∈ Δ} wᵀ A w`` for a ``[T, T]`` Gram matrix ``A``.

    Exact for ``T <= 2``; otherwise Frank-Wolfe with exact line search started from the
    best pair of tasks (Sener & Koltun's ``MinNormSolver``), ``iterations`` steps.
    """
    t = a.shape[0]
    if t == 1:
        return tf.ones([1])
    diag = tf.linalg.diag_part(a)
    # Best pair (i, j): γ_ij on g_i, 1 - γ_ij on g_j.
    gamma = _segment(diag[:, None], a, diag[None, :])
    cost = gamma**2 * diag[:, None] + 2 * gamma * (1 - gamma) * a + (1 - gamma) ** 2 * diag[None, :]
    cost += tf.eye(t) * tf.reduce_max(tf.abs(cost)) + tf.eye(t)  # never pick i == j
    best = tf.argmin(tf.reshape(cost, [-1]), output_type=tf.int32)
    i, j = best // t, best % t
    g = tf.reshape(gamma, [-1])[best]
    w = g * tf.one_hot(i, t) + (1 - g) * tf.one_hot(j, t)
    if t == 2:
        return w

    def step(k, w):
        grad = tf.linalg.matvec(a, w)  # (A w)_j = g_w · g_j
        j = tf.argmin(grad, output_type=tf.int32)
        g = _segment(tf.tensordot(w, grad, 1), grad[j], a[j, j])
        return k + 1, g * w + (1 - g) * tf.one_hot(j, t)

    _, w = tf.while_loop(lambda k, w: k < iterations, step, (tf.constant(0), w))
    return w


def mgda(iterations: int = 250) -> Balancer:
    """Multiple-gradient descent: the common descent direction of minimum norm.

    MGDA steps along ``d = Σ_t w_t g_t`` with ::

        w = argmin_{w ≥ 0, Σ w = 1} ‖Σ_t w_t g_t‖²

    the min-norm point of the convex hull of the task gradients. For two tasks the answer
    is closed-form: ``w_1 = γ = clip(((g_2 - g_1) · g_2) / ‖g_1 - g_2‖², 0, 1)``; for more,
    Frank-Wolfe on the Gram matrix. ``d`` satisfies ``g_t · d ≥ ‖d‖²`` for every task (it
    is zero at a Pareto-stationary point). The weights sum to 1, so the step is about
    ``1/T`` of the plain sum's. MGDA-UB is this same method given the gradients with
    respect to the shared representation instead of the shared parameters — the trainer
    chooses what it passes.

    Args:
      iterations: Frank-Wolfe iterations for ``T >= 3`` (default 250).

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Sener & Koltun, "Multi-Task Learning as Multi-Objective Optimization", NeurIPS 2018.

    Example::

        balancer = mgda()
        result, _ = balancer.update(losses=losses, gradients=tf.constant([[1.0, 0.0], [0.0, 1.0]]),
                                    state=balancer.init(2))
        # result.weights == [0.5, 0.5]
    """
    iterations = check_int("iterations", iterations)

    def update(*, state, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "mgda")
        weights = min_norm_weights(gram(gradients), iterations)
        return BalanceResult(weights, combine(weights, gradients)), state

    return Balancer("mgda", lambda num_tasks: EmptyState(), update, needs_gradients=True,
                    config={"iterations": iterations})
