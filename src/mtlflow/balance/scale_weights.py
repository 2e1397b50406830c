"""Multiply the task weights a balancer returns by fixed per-task factors (the tasks' ``weight``)."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from mtlflow.balance._utils import check, check_number
from mtlflow.balance.base import BalanceResult, Balancer


def scale_weights(balancer: Balancer, scales: Sequence[float]) -> Balancer:
    """Runs ``balancer`` and multiplies the weights it returns by ``scales``.

    With ``w`` the inner method's weights and ``c`` the scales, the result is ``w ⊙ c``; a
    combined shared gradient, when the method returns one, becomes ``Σ_t c_t w_t g_t`` (every
    method here returns ``Σ_t w_t g_t``, so this is that sum with the scaled weights). This
    is how a task's ``weight`` acts under a method other than ``fixed``: it scales what the
    method decides, e.g. ``weight: 0.5`` halves the task's share under ``uncertainty`` or
    ``pcgrad``. The inner method itself never sees the scales.

    Args:
      balancer: the balancer to wrap.
      scales: one positive factor per task (in the balancer's task order).

    Returns:
      A :class:`~mtlflow.balance.Balancer` with the inner one's state and gradient needs.

    Example::

        balancer = scale_weights(uncertainty(), [1.0, 0.5])
    """
    scales = [check_number("scales", float(s), strict=True) for s in scales]
    check("scales", scales, len(scales) > 0, "must give one factor per task")
    factors = tf.constant(scales, tf.float32)

    def update(*, losses, state, gradients=None, **extras):
        result, state = balancer.update(losses=losses, gradients=gradients, state=state, **extras)
        weights = tf.convert_to_tensor(result.weights, tf.float32) * factors
        shared = None
        if result.shared_gradient is not None:
            shared = tf.linalg.matvec(tf.cast(gradients, tf.float32), weights, transpose_a=True)
        return BalanceResult(weights, shared), state

    return Balancer("scale_weights", balancer.init, update, balancer.needs_gradients, balancer.wants_gradients,
                    {"balancer": balancer, "scales": scales})
