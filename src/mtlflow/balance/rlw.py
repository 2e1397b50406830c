"""Random loss weighting (RLW)."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import as_losses, check
from mtlflow.balance.base import BalanceResult, Balancer


class RLWState(NamedTuple):
    key: tf.Tensor  # [2] int64: (seed, step) for the stateless RNG


def rlw(seed: int = 0) -> Balancer:
    """Random Loss Weighting: fresh random weights at every step.

    Each step draws ``z ~ N(0, I_T)`` and uses ``w = T · softmax(z)`` (weights sum to
    ``T``). The draw is a stateless function of ``(seed, step)``, so a run is reproducible
    and resumes the same stream after a checkpoint.

    Args:
      seed: integer seed of the weight stream (default 0).

    Returns:
      A loss-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=False``).

    References:
      Lin, Ye, Xu, Shi, Zhang & Kwok, "Reasonable Effectiveness of Random Weighting: A
      Litmus Test for Multi-Task Learning", TMLR 2022.

    Example::

        balancer = rlw(seed=3)
        result, state = balancer.update(losses=tf.constant([1.0, 2.0]), state=balancer.init(2))
    """
    check("seed", seed, isinstance(seed, int) and not isinstance(seed, bool), "must be an integer")

    def init(num_tasks: int) -> RLWState:
        del num_tasks
        return RLWState(key=tf.constant([seed, 0], tf.int64))

    def update(*, losses, state: RLWState, gradients=None, **extras):
        del gradients, extras
        t = as_losses(losses).shape[0]
        z = tf.random.stateless_normal([t], seed=state.key)
        weights = t * tf.nn.softmax(z)
        return BalanceResult(weights), RLWState(state.key + tf.constant([0, 1], tf.int64))

    return Balancer("rlw", init, update, needs_gradients=False, config={"seed": seed})
