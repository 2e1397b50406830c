"""Dynamic Weight Average (DWA)."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_losses, check_int, check_number
from mtlflow.balance.base import BalanceResult, Balancer


class DWAState(NamedTuple):
    step: tf.Tensor  # int64 scalar: updates seen
    window_sum: tf.Tensor  # [T] sum of the losses of the current (incomplete) window
    last: tf.Tensor  # [T] mean loss of the last complete window, L(prev)
    before_last: tf.Tensor  # [T] mean loss of the window before, L(prev-1)
    windows: tf.Tensor  # int64 scalar: complete windows so far


def dwa(temperature: float = 2.0, period: int = 1) -> Balancer:
    """Weights from the rate at which each loss has been falling.

    With ``L̄_t(k)`` the mean loss of task ``t`` over window ``k`` (``period`` steps), ::

        r_t = L̄_t(k-1) / L̄_t(k-2),      w_t = T · exp(r_t / τ) / Σ_j exp(r_j / τ)

    so a task whose loss falls slowly gets more weight. ``w = 1`` until two windows are
    complete. The paper averages over epochs: the trainer passes
    ``period=steps_per_epoch`` when it knows it; the default ``period=1`` compares the
    last two steps' losses (noisier).

    Args:
      temperature: the softmax temperature ``τ > 0`` (default 2.0; large ``τ`` → equal weights).
      period: steps per averaging window (default 1).

    Returns:
      A loss-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=False``).

    References:
      Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention", CVPR 2019.

    Example::

        balancer = dwa(temperature=2.0, period=100)
        result, state = balancer.update(losses=tf.constant([1.0, 2.0]), state=balancer.init(2))
    """
    temperature = check_number("temperature", temperature, strict=True)
    period = check_int("period", period)

    def init(num_tasks: int) -> DWAState:
        zeros = tf.zeros([num_tasks])
        zero = tf.constant(0, tf.int64)
        return DWAState(zero, zeros, zeros, zeros, zero)

    def update(*, losses, state: DWAState, gradients=None, **extras):
        del gradients, extras
        losses = as_losses(losses)
        t = losses.shape[0]
        ratio = state.last / tf.maximum(state.before_last, EPS)
        weights = tf.where(state.windows >= 2, t * tf.nn.softmax(ratio / temperature), tf.ones([t]))
        step = state.step + 1
        window_sum = state.window_sum + losses
        closes = step % period == 0
        new = DWAState(
            step=step,
            window_sum=tf.where(closes, tf.zeros_like(window_sum), window_sum),
            last=tf.where(closes, window_sum / period, state.last),
            before_last=tf.where(closes, state.last, state.before_last),
            windows=state.windows + tf.cast(closes, tf.int64),
        )
        return BalanceResult(weights), new

    return Balancer("dwa", init, update, needs_gradients=False,
                    config={"temperature": temperature, "period": period})
