"""IMTL-G: impartial multi-task learning, the gradient part."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, combine, gram
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState


def imtl_weights(a: tf.Tensor) -> tf.Tensor:
    """IMTL-G's ``α`` from a ``[T, T]`` Gram matrix (closed form, pseudo-inverse)."""
    t = a.shape[0]
    if t == 1:
        return tf.ones([1])
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(a), 0.0))
    au = a / tf.maximum(norms, EPS)[None, :]  # au[i, j] = g_i · u_j
    # D = g_1 - g_{2..T}, U = u_1 - u_{2..T}: (D Uᵀ)[i, j] and (g_1 Uᵀ)[j], for i, j >= 2.
    gu = au[0, :1] - au[0, 1:]
    du = (au[0, 0] - au[0, 1:][None, :]) - (au[1:, :1] - au[1:, 1:])
    rest = tf.linalg.matvec(tf.linalg.pinv(du), gu, transpose_a=True)  # α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹
    return tf.concat([1.0 - tf.reduce_sum(rest, keepdims=True), rest], axis=0)


def imtl() -> Balancer:
    """IMTL-G: the combination whose projections onto every task direction are equal.

    With unit task gradients ``u_t = g_t / ‖g_t‖``, IMTL-G looks for ``d = Σ_t α_t g_t``,
    ``Σ_t α_t = 1``, such that ``d · u_1 = d · u_t`` for every ``t`` — no task is favoured,
    whatever its gradient's size. Writing ``D = [g_1 - g_t]ᵀ_{t≥2}`` and
    ``U = [u_1 - u_t]ᵀ_{t≥2}``, the closed form is ::

        α_{2..T} = g_1 Uᵀ (D Uᵀ)⁻¹,      α_1 = 1 - Σ_{t≥2} α_t

    computed from the Gram matrix with a pseudo-inverse (a zero or duplicated gradient
    makes ``D Uᵀ`` singular: then the minimum-norm solution). This is IMTL-G only; the
    loss-scale part (IMTL-L) is not included.

    Returns:
      A gradient-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=True``).

    References:
      Liu, Li, Kuang, Xue, Chen, Yang, Liao & Zhang, "Towards Impartial Multi-task
      Learning", ICLR 2021.

    Example::

        balancer = imtl()
        result, _ = balancer.update(losses=losses, gradients=gradients, state=balancer.init(3))
    """

    def update(*, state, gradients=None, losses=None, **extras):
        del losses, extras
        gradients = as_gradients(gradients, "imtl")
        weights = imtl_weights(gram(gradients))
        return BalanceResult(weights, combine(weights, gradients)), state

    return Balancer("imtl", lambda num_tasks: EmptyState(), update, needs_gradients=True, config={})
