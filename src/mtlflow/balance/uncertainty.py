"""Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla)."""

from __future__ import annotations

from typing import NamedTuple, Sequence

import tensorflow as tf

from mtlflow.balance._utils import as_losses, check, check_number
from mtlflow.balance.base import BalanceResult, Balancer

BETA_1, BETA_2, ADAM_EPS = 0.9, 0.999, 1e-8


class UncertaintyState(NamedTuple):
    log_variance: tf.Tensor  # [T] s_t = log σ_t²
    m: tf.Tensor  # [T] Adam first moment
    v: tf.Tensor  # [T] Adam second moment
    count: tf.Tensor  # int64 scalar: Adam steps taken


def uncertainty(regression: Sequence[bool] | None = None, learning_rate: float = 0.01) -> Balancer:
    """Learned task uncertainties ``s_t = log σ_t²`` weigh the losses.

    Kendall et al. minimise, jointly with the model, ::

        J(θ, s) = Σ_t c_t · exp(-s_t) · L_t(θ) + s_t / 2,     c_t = 1/2 (regression), 1 (classification)

    The model sees the loss weights ``w_t = c_t exp(-s_t)``. The balancer cannot own
    Keras variables, so it keeps ``s`` in its state and takes its own Adam step on the
    closed-form gradient ``∂J/∂s_t = 1/2 - c_t exp(-s_t) L_t`` after each update. The
    fixed point is ``c_t exp(-s_t) = 1 / (2 L_t)``: for a regression task whose expected
    MSE is ``σ_t²``, ``exp(-s_t) → 1/σ_t²``. The weights returned are those of the current
    ``s`` (before this step's Adam step); ``s`` starts at 0.

    Args:
      regression: one flag per task, ``True`` for a regression (Gaussian) task; default
        ``None`` = all classification.
      learning_rate: Adam learning rate for ``s`` (default 0.01).

    Returns:
      A loss-level :class:`~mtlflow.balance.Balancer` (``needs_gradients=False``).

    References:
      Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for
      Scene Geometry and Semantics", CVPR 2018.

    Example::

        balancer = uncertainty(regression=[True, False])
        result, state = balancer.update(losses=tf.constant([0.5, 1.2]), state=balancer.init(2))
    """
    learning_rate = check_number("learning_rate", learning_rate, strict=True)
    if regression is not None:
        ok = not isinstance(regression, (str, bytes)) and all(isinstance(r, bool) for r in regression)
        check("regression", regression, ok, "must be a sequence of bools")
        regression = tuple(regression)

    def init(num_tasks: int) -> UncertaintyState:
        if regression is not None and len(regression) != num_tasks:
            raise ValueError(f"Argument `regression` needs one flag per task ({num_tasks} tasks). "
                             f"Received: regression={list(regression)}")
        zeros = tf.zeros([num_tasks])
        return UncertaintyState(zeros, zeros, zeros, tf.constant(0, tf.int64))

    def update(*, losses, state: UncertaintyState, gradients=None, **extras):
        del gradients, extras
        losses = as_losses(losses)
        t = losses.shape[0]
        c = tf.ones([t]) if regression is None else tf.constant([0.5 if r else 1.0 for r in regression])
        weights = c * tf.exp(-state.log_variance)
        grad = 0.5 - weights * losses  # ∂J/∂s
        count = state.count + 1
        m = BETA_1 * state.m + (1 - BETA_1) * grad
        v = BETA_2 * state.v + (1 - BETA_2) * tf.square(grad)
        n = tf.cast(count, tf.float32)
        step = learning_rate * (m / (1 - BETA_1**n)) / (tf.sqrt(v / (1 - BETA_2**n)) + ADAM_EPS)
        return BalanceResult(weights), UncertaintyState(state.log_variance - step, m, v, count)

    config = {"regression": None if regression is None else list(regression), "learning_rate": learning_rate}
    return Balancer("uncertainty", init, update, needs_gradients=False, config=config)
