"""CAGrad: conflict-averse gradient descent."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, check, check_int, check_number, combine, gram, project_to_simplex
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState

RESCALE = {0: lambda c: 1.0, 1: lambda c: 1.0 + c**2, 2: lambda c: 1.0 + c}
STEPS = 2.0 ** -tf.range(0, 24, dtype=tf.float32)  # candidate step sizes, relative


def cagrad_dual(a: tf.Tensor, c: float, iterations: int) -> tf.Tensor:
    """``argmin_{w ∈ Δ} wᵀ A b + c ‖g_0‖ √(wᵀ A w)`` with ``b = 1/T``, ``‖g_0‖² = bᵀ A b``.

    Projected gradient descent on the simplex, ``iterations`` steps; each step tries step
    sizes ``2^0 … 2^-23`` (relative to the gradient's scale) at once and keeps the best, so
    no Lipschitz constant is needed (the objective is not smooth where ``g_w = 0``).
    """
    t = a.shape[0]
    a = a / tf.maximum(tf.reduce_max(tf.linalg.diag_part(a)), EPS)  # the argmin is scale-free
    ab = tf.reduce_mean(a, axis=1)  # A b
    radius = c * tf.sqrt(tf.maximum(tf.reduce_mean(ab), 0.0))  # c ‖g_0‖

    def objective(w):  # w: [..., T]
        quadratic = tf.reduce_sum(tf.matmul(w, a) * w, axis=-1)
        return tf.linalg.matvec(w, ab) + radius * tf.sqrt(tf.maximum(quadratic, 0.0) + EPS)

    def step(k, w):
        aw = tf.linalg.matvec(a, w)
        grad = ab + radius * aw / tf.sqrt(tf.maximum(tf.tensordot(w, aw, 1), 0.0) + EPS)
        grad /= tf.maximum(tf.reduce_max(tf.abs(grad)), EPS)
        candidates = project_to_simplex(w[None, :] - STEPS[:, None] * grad[None, :])
        candidates = tf.concat([w[None, :], candidates], axis=0)  # never get worse
        return k + 1, candidates[tf.argmin(objective(candidates))]

    _, w = tf.while_loop(lambda k, w: k < iterations, step, (tf.constant(0), tf.fill([t], 1.0 / t)))
    return w


def cagrad(c: float = 0.4, iterations: int = 50, rescale: int = 1) -> Balancer:
    """Conflict-averse gradient: the best worst-case improvement near the mean gradient.

    CAGrad looks for the update ``d`` maximising the worst task's improvement
    ``min_t g_t · d`` within a ball ``‖d - g_0‖ ≤ c ‖g_0‖`` around the mean gradient
    ``g_0``. Its dual is a problem over the simplex::

        w* = argmin_{w ∈ Δ} g_w · g_0 + √φ ‖g_w‖,    g_w = Σ_t w_t g_t,   φ = c² ‖g_0‖²

    solved in-graph with a fixed number of projected-gradient iterations on the Gram
    matrix; then ``d = g_0 + (√φ / ‖g_w‖) g_w``, divided by ``1 + c²`` as the official code
    does (``rescale=1``; ``0``: no rescaling, ``2``: divide by ``1 + c``). With ``c = 0``
    this is the mean gradient. ``d`` is a combination of task gradients, returned as
    ``weights`` (``shared_gradient == weights @ gradients``). With one task,
    ``d = g (1 + c) / (1 + c²)`` under ``rescale=1`` and exactly ``g`` under ``rescale=2``.

    Args:
      c: the radius factor ``c >= 0`` (default 0.4).
      iterations: projected-gradient iterations on the dual (default 50).
      rescale: 0, 1 (default) or 2, as above.

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Liu, Liu, Jin, Stone & Liu, "Conflict-Averse Gradient Descent for Multi-task
      Learning", NeurIPS 2021.

    Example::

        balancer = cagrad(c=0.4)
        result, _ = balancer.update(losses=losses, gradients=gradients, state=balancer.init(3))
    """
    c = check_number("c", c)
    iterations = check_int("iterations", iterations)
    check("rescale", rescale, rescale in RESCALE and not isinstance(rescale, bool), "must be 0, 1 or 2")

    def update(*, state, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "cagrad")
        t = gradients.shape[0]
        a = gram(gradients)
        w = cagrad_dual(a, c, iterations) if c > 0 else tf.fill([t], 1.0 / t)
        g0_norm = tf.sqrt(tf.maximum(tf.reduce_mean(a), 0.0))
        gw_norm = tf.sqrt(tf.maximum(tf.tensordot(w, tf.linalg.matvec(a, w), 1), 0.0))
        lam = c * g0_norm / (gw_norm + EPS)
        weights = (1.0 / t + lam * w) / RESCALE[rescale](c)
        return BalanceResult(weights, combine(weights, gradients)), state

    return Balancer("cagrad", lambda num_tasks: EmptyState(), update, needs_gradients=True,
                    config={"c": c, "iterations": iterations, "rescale": rescale})
