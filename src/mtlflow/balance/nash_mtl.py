"""Nash-MTL: multi-task learning as a bargaining game."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, check_int, combine, gram
from mtlflow.balance.base import BalanceResult, Balancer

RIDGE = 1e-4  # relative ridge on the Gram diagonal: keeps α finite when no bargaining solution exists


class NashState(NamedTuple):
    alpha: tf.Tensor  # [T] last solution, the warm start of the next solve


def nash_weights(a: tf.Tensor, iterations: int = 50, start: tf.Tensor | None = None) -> tf.Tensor:
    """Solves ``Ã α = 1/α``, ``α > 0``, for ``Ã ≈ A / ‖A‖_F`` (``A`` a ``[T, T]`` Gram matrix).

    The equation is the stationarity condition of the strictly convex, self-concordant
    ``f(α) = ½ αᵀ Ã α - Σ_t log α_t``; damped Newton steps ``α ← α - Δ / (1 + λ)``
    (``Δ = H⁻¹ ∇f``, ``λ² = ∇fᵀ Δ``) never leave ``α > 0`` and converge quadratically near
    the solution (Nesterov & Nemirovski). The start is whichever of ``start`` and
    ``diag(Ã)^{-1/2}`` (exact for orthogonal gradients) has the lower ``f``, rescaled to
    its best multiple. A relative ridge, ``Ã = (Â + 10⁻⁴ diag(Â)) / (1 + 10⁻⁴)`` with
    ``Â = A / ‖A‖_F``, keeps ``α`` finite when no solution exists (e.g. ``g_2 = -g_1``)
    and changes neither the one-task answer ``α = 1`` nor the orthogonal one.
    Tasks with a zero gradient are decoupled and get ``α_t = 1``.
    """
    t = a.shape[0]
    diag = tf.linalg.diag_part(a)
    active = diag > 1e-10 * tf.reduce_max(diag) + 1e-30
    pair = active[:, None] & active[None, :]
    a = a / tf.maximum(tf.norm(a), EPS)
    a = tf.where(pair, a, 0.0) + tf.linalg.diag(tf.where(active, 0.0, 1.0))
    a = (a + RIDGE * tf.linalg.diag(tf.linalg.diag_part(a))) / (1.0 + RIDGE)

    def potential(alpha):
        return 0.5 * tf.tensordot(alpha, tf.linalg.matvec(a, alpha), 1) - tf.reduce_sum(tf.math.log(alpha))

    def rescaled(alpha):  # the best multiple s·α: s² αᵀÃα = T
        return alpha * tf.sqrt(t / tf.maximum(tf.tensordot(alpha, tf.linalg.matvec(a, alpha), 1), EPS))

    alpha = rescaled(tf.math.rsqrt(tf.linalg.diag_part(a)))  # exact for orthogonal gradients
    if start is not None:
        start = rescaled(start)
        alpha = tf.cond(potential(start) < potential(alpha), lambda: start, lambda: alpha)

    def newton(k, alpha):
        grad = tf.linalg.matvec(a, alpha) - 1.0 / alpha
        hessian = a + tf.linalg.diag(1.0 / alpha**2)
        delta = tf.linalg.solve(hessian, grad[:, None])[:, 0]
        decrement = tf.sqrt(tf.maximum(tf.tensordot(grad, delta, 1), 0.0))
        return k + 1, alpha - delta / (1.0 + decrement)

    _, alpha = tf.while_loop(lambda k, _: k < iterations, newton, (tf.constant(0), alpha))
    return alpha


def nash_mtl(iterations: int = 50) -> Balancer:
    """Nash bargaining over the update direction: ``d = Σ_t α_t g_t`` with ``Gᵀ G α = 1/α``.

    Each task's utility is ``g_t · d``; the Nash bargaining solution maximises
    ``Σ_t log(g_t · d)`` over ``‖d‖ ≤ ε`` and is ``d ∝ Σ_t α_t g_t`` where ``α > 0`` solves ::

        (G Gᵀ) α = 1 / α     (elementwise)

    i.e. every task's improvement ``g_t · d`` is inversely proportional to its weight.
    Like the official code, the Gram matrix is first divided by its Frobenius norm, so
    ``d`` has the scale of the gradients (one task gives exactly ``g``). Instead of the
    paper's sequence of convex programs (CVXPY), ``α`` comes from ``iterations`` damped
    Newton steps on a convex potential (see :func:`nash_weights`), warm-started from the
    previous step's ``α``. To update ``α`` only every few steps, as the paper does, wrap
    it: ``every_k_steps(nash_mtl(), k)``.

    Args:
      iterations: damped Newton iterations per step (default 50).

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Navon, Shamsian, Achituve, Maron, Kawaguchi, Chechik & Fetaya, "Multi-Task Learning
      as a Bargaining Game", ICML 2022.

    Example::

        balancer = nash_mtl()
        result, state = balancer.update(losses=losses, gradients=gradients, state=balancer.init(3))
    """
    iterations = check_int("iterations", iterations)

    def init(num_tasks: int) -> NashState:
        return NashState(tf.ones([num_tasks]))

    def update(*, state: NashState, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "nash_mtl")
        alpha = nash_weights(gram(gradients), iterations, state.alpha)
        return BalanceResult(alpha, combine(alpha, gradients)), NashState(alpha)

    return Balancer("nash_mtl", init, update, needs_gradients=True, config={"iterations": iterations})
