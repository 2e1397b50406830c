"""Fixed loss weights: ``L = Σ_t w_t L_t`` with constant ``w_t``."""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf

from mtlflow.balance._utils import as_losses, check_number
from mtlflow.balance.base import BalanceResult, Balancer, EmptyState


def fixed(weights: Sequence[float] | None = None) -> Balancer:
    """Constant per-task loss weights (the classic weighted sum).

    The total loss is ``L = Σ_t w_t L_t``; the shared parameters follow ``Σ_t w_t g_t``.

    Args:
      weights: one non-negative weight per task, or ``None`` (default) for ``w_t = 1``.

    Returns:
      A loss-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=False``) whose
      ``init(num_tasks)`` checks that ``len(weights) == num_tasks``.

    Example::

        balancer = fixed([1.0, 0.5])
        result, state = balancer.update(losses=tf.constant([2.0, 4.0]), state=balancer.init(2))
        # result.weights == [1.0, 0.5]
    """
    if weights is not None:
        weights = tuple(check_number(f"weights[{i}]", w) for i, w in enumerate(weights))

    def init(num_tasks: int) -> EmptyState:
        if weights is not None and len(weights) != num_tasks:
            raise ValueError(f"Argument `weights` needs one weight per task ({num_tasks} tasks). "
                             f"Received: weights={list(weights)}")
        return EmptyState()

    def update(*, losses, state, gradients=None, **extras):
        del gradients, extras
        t = as_losses(losses).shape[0]
        w = tf.ones([t]) if weights is None else tf.constant(weights, tf.float32)
        return BalanceResult(w), state

    config = {"weights": None if weights is None else list(weights)}
    return Balancer("fixed", init, update, needs_gradients=False, config=config)
