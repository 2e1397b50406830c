"""Recompute a balancer's weights only every ``k`` steps."""

from __future__ import annotations

from typing import Any, NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import as_losses, check_int
from mtlflow.balance.base import BalanceResult, Balancer


class EveryKStepsState(NamedTuple):
    step: tf.Tensor  # int64 scalar: updates seen
    weights: tf.Tensor  # [T] the weights of the last recomputation
    inner: Any  # the wrapped balancer's state


def every_k_steps(balancer: Balancer, k: int) -> Balancer:
    """Runs ``balancer`` on steps ``0, k, 2k, …`` and reuses its last weights in between.

    Useful for expensive methods (Nash-MTL, CAGrad, MGDA) and for adjusting loss weights
    only every few batches. On every step the result is ``BalanceResult(weights, None)``:
    the trainer combines the task gradients as ``Σ_t w_t g_t``. On a recomputation step
    this is exactly the inner method's combined gradient (every method here returns
    ``shared_gradient == weights @ gradients``); in between, the last combination is
    reused, which a trainer gets from one backward pass of ``Σ_t w_t L_t`` — no per-task
    gradients. ``wants_gradients(state)`` says which steps need them (a scalar bool
    tensor); on the others pass ``gradients=None``: a step known (from the step count) not
    to recompute then carries no per-task gradients at all, and ``update`` only advances the
    counter and keeps the last weights.

    The inner balancer only sees the recomputation steps: its state (loss windows,
    counters, random streams) advances once per ``k`` steps.

    Args:
      balancer: the balancer to wrap.
      k: recompute every ``k >= 1`` steps (``k=1``: every step, results as ``None``-gradient).

    Returns:
      A :class:`~mtlflow.balance.Balancer` with the inner one's ``needs_gradients``.

    Example::

        balancer = every_k_steps(nash_mtl(), k=5)
        state = balancer.init(3)
        if balancer.wants_gradients(state): ...
    """
    k = check_int("k", k)
    inner_wants = balancer.wants_gradients

    def init(num_tasks: int) -> EveryKStepsState:
        return EveryKStepsState(tf.constant(0, tf.int64), tf.ones([num_tasks]), balancer.init(num_tasks))

    def recomputes(state: EveryKStepsState) -> tf.Tensor:
        return tf.equal(state.step % k, 0)

    def wants_gradients(state: EveryKStepsState) -> tf.Tensor:
        wants = recomputes(state) & tf.constant(balancer.needs_gradients)
        return wants if inner_wants is None else wants & inner_wants(state.inner)

    def update(*, losses, state: EveryKStepsState, gradients=None, **extras):
        losses = as_losses(losses)
        if gradients is None and balancer.needs_gradients:
            # a step between recomputations, run without per-task gradients
            return BalanceResult(state.weights), EveryKStepsState(state.step + 1, state.weights, state.inner)

        def recompute():
            result, inner = balancer.update(losses=losses, gradients=gradients, state=state.inner, **extras)
            return tf.convert_to_tensor(result.weights, tf.float32), inner

        weights, inner = tf.cond(recomputes(state), recompute, lambda: (state.weights, state.inner))
        return BalanceResult(weights), EveryKStepsState(state.step + 1, weights, inner)

    config = {"balancer": balancer, "k": k}
    return Balancer("every_k_steps", init, update, balancer.needs_gradients, wants_gradients, config)
