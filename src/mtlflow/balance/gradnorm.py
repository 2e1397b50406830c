"""GradNorm: gradient normalisation for adaptive loss balancing."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from mtlflow.balance._utils import EPS, as_gradients, as_losses, check_number
from mtlflow.balance.base import BalanceResult, Balancer


class GradNormState(NamedTuple):
    weights: tf.Tensor  # [T] current loss weights w_t (sum to T)
    initial_losses: tf.Tensor  # [T] L_t(0): each task's first positive loss (0 = not seen yet)


def gradnorm(alpha: float = 1.5, learning_rate: float = 0.025) -> Balancer:
    """Learns loss weights that equalise the tasks' gradient norms and training rates.

    With ``G_t = ‖w_t g_t‖``, ``Ḡ = mean_t G_t``, the inverse training rate
    ``r_t = L̃_t / mean_j L̃_j`` where ``L̃_t = L_t / L_t(0)``, GradNorm minimises ::

        L_grad(w) = Σ_t | G_t - Ḡ · r_t^α |        (the target Ḡ r_t^α held constant)

    by gradient descent on ``w``: ``∂L_grad/∂w_t = sign(G_t - Ḡ r_t^α) · ‖g_t‖``, then
    clips ``w`` to be positive and renormalises it to ``Σ_t w_t = T``. The weights
    returned are the current ones (before this step's update); ``L_t(0)`` is each task's
    first positive loss, so a task with no labels in the first batch is still handled.

    The gradients the trainer passes decide what ``g_t`` is: the paper uses the gradients
    of the last shared layer's weights (cheap); the gradients of all shared parameters
    also work. ``learning_rate`` is in units of ``1/‖g_t‖``: scale it with the gradient
    norms. The shared parameters follow ``Σ_t w_t g_t`` (``shared_gradient=None``).

    Args:
      alpha: the restoring-force strength ``α >= 0`` (default 1.5; 0 = equal gradient norms).
      learning_rate: step size of the weight update (default 0.025).

    Returns:
      A :class:`~mtlflow.balance.Balancer` with ``needs_gradients=True``.

    References:
      Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: Gradient Normalization for
      Adaptive Loss Balancing in Deep Multitask Networks", ICML 2018.

    Example::

        balancer = gradnorm(alpha=1.5)
        result, state = balancer.update(losses=losses, gradients=last_layer_grads,
                                        state=balancer.init(2))
    """
    alpha = check_number("alpha", alpha)
    learning_rate = check_number("learning_rate", learning_rate, strict=True)

    def init(num_tasks: int) -> GradNormState:
        return GradNormState(tf.ones([num_tasks]), tf.zeros([num_tasks]))

    def update(*, losses, state: GradNormState, gradients=None, **extras):
        del extras
        losses = as_losses(losses)
        norms = tf.norm(as_gradients(gradients, "gradnorm"), axis=1)
        t = losses.shape[0]
        initial = tf.where(state.initial_losses > 0, state.initial_losses, losses)
        relative = tf.where(initial > 0, losses / tf.maximum(initial, EPS), tf.ones([t]))
        rate = relative / tf.maximum(tf.reduce_mean(relative), EPS)
        g = state.weights * norms
        target = tf.reduce_mean(g) * rate**alpha
        w = state.weights - learning_rate * tf.sign(g - target) * norms
        w = tf.maximum(w, EPS)
        w = t * w / tf.reduce_sum(w)
        return BalanceResult(state.weights), GradNormState(w, initial)

    return Balancer("gradnorm", init, update, needs_gradients=True,
                    config={"alpha": alpha, "learning_rate": learning_rate})
