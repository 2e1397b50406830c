"""Give every task gradient the same norm before a balancer sees it."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, as_losses
from mtlflow.balance.base import BalanceResult, Balancer


def normalize_gradients(balancer: Balancer) -> Balancer:
    """Rescales each task gradient to the mean norm, then runs ``balancer``.

    The inner method sees ``ĝ_t = s_t g_t`` with ``s_t = mean_j ‖g_j‖ / ‖g_t‖`` (``s_t = 1``
    for a zero gradient), so no task dominates by the size of its gradient alone (the
    ``normalize`` options of MGDA, or IMTL's motivation). Since ``ĝ_t`` is a rescaled
    ``g_t``, the inner weights ``w`` become ``w_t s_t`` on the original gradients:
    the returned weights are those, and ``shared_gradient`` (the inner one, or ``None``)
    still equals ``Σ_t (w_t s_t) g_t``. The wrapped balancer needs gradients on every
    step (for the norms): to skip them between recomputations, put the step wrapper
    outside, ``every_k_steps(normalize_gradients(mgda()), k)``.

    Args:
      balancer: the balancer to wrap (gradient- or loss-level).

    Returns:
      A :class:`~mtlflow.balance.Balancer` with ``needs_gradients=True``.

    Example::

        balancer = normalize_gradients(mgda())
    """

    def update(*, losses, state, gradients=None, **extras):
        gradients = as_gradients(gradients, "normalize_gradients")
        norms = tf.norm(gradients, axis=1)
        scale = tf.where(norms > EPS, tf.reduce_mean(norms) / tf.maximum(norms, EPS), 1.0)
        inner_gradients = gradients * scale[:, None] if balancer.needs_gradients else None
        result, state = balancer.update(losses=as_losses(losses), gradients=inner_gradients, state=state, **extras)
        return BalanceResult(result.weights * scale, result.shared_gradient), state

    return Balancer("normalize_gradients", balancer.init, update, needs_gradients=True,
                    config={"balancer": balancer})
