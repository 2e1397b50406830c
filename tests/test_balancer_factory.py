"""training.balance → a balancer: DWA's loss window is one epoch, also under ``every: k``."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.config import TrainingConfig
from mtlflow.train.balancer_factory import make_balancer


class _Spec:
    weight = 1.0


class _Task:
    spec = _Spec()
    type_name = "multiclass"


TASKS = {"a": _Task(), "b": _Task()}


def run_epochs(balancer, epoch_losses, steps_per_epoch):
    """Weights after feeding each epoch's constant losses for ``steps_per_epoch`` steps (eager)."""
    state = balancer.init(2)
    result = None
    for losses in epoch_losses:
        for _ in range(steps_per_epoch):
            result, state = balancer.update(losses=tf.constant(losses), state=state)
    result, state = balancer.update(losses=tf.constant(epoch_losses[-1]), state=state)
    return result.weights.numpy()


def test_dwa_under_every_k_averages_over_one_epoch():
    steps = 20
    for every in (1, 4):
        training = TrainingConfig(balance={"method": "dwa", "every": every, "temperature": 1.0})
        balancer = make_balancer(training, TASKS, ["a", "b"], steps_per_epoch=steps)
        inner = balancer.config["balancer"] if every > 1 else balancer
        assert inner.config["period"] == steps // every
        # epoch 1: both losses 1; epoch 2: a fell to 0.5, b stayed at 1 → after two epochs b gets more weight
        weights = run_epochs(balancer, [[1.0, 1.0], [0.5, 1.0]], steps)
        expected = 2 * np.exp([0.5, 1.0]) / np.exp([0.5, 1.0]).sum()
        np.testing.assert_allclose(weights, expected, rtol=1e-5, err_msg=f"every={every}")


def test_an_explicit_dwa_period_is_kept():
    training = TrainingConfig(balance={"method": "dwa", "every": 4, "period": 3})
    balancer = make_balancer(training, TASKS, ["a", "b"], steps_per_epoch=20)
    assert balancer.config["balancer"].config["period"] == 3


class _Half(_Task):
    class spec:  # noqa: N801
        weight = 0.5


def test_a_task_weight_scales_what_a_non_fixed_method_returns():
    tasks = {"a": _Task(), "b": _Half()}
    losses = tf.constant([1.0, 2.0])
    # uncertainty starts at log σ² = 0: weights (1, 1) for classification tasks; the task weight halves b's
    training = TrainingConfig(balance={"method": "uncertainty"})
    result, _ = make_balancer(training, tasks, ["a", "b"]).update(losses=losses, state=make_balancer(
        training, tasks, ["a", "b"]).init(2))
    np.testing.assert_allclose(result.weights.numpy(), [1.0, 0.5])
    # a gradient-level method: its combined gradient uses the scaled weights
    gradients = tf.constant([[1.0, 0.0], [0.0, 1.0]])  # orthogonal: PCGrad projects nothing, weights (1, 1)
    balancer = make_balancer(TrainingConfig(balance={"method": "pcgrad", "seed": 0}), tasks, ["a", "b"])
    result, _ = balancer.update(losses=losses, gradients=gradients, state=balancer.init(2))
    np.testing.assert_allclose(result.weights.numpy(), [1.0, 0.5])
    combined = result.shared_gradient if result.shared_gradient is not None else tf.linalg.matvec(
        gradients, result.weights, transpose_a=True)
    np.testing.assert_allclose(combined.numpy(), [1.0, 0.5])
    # fixed takes the weights as they are; weight 1 everywhere adds no wrapper
    assert make_balancer(TrainingConfig(), tasks, ["a", "b"]).name == "fixed"
    assert make_balancer(training, TASKS, ["a", "b"]).name == "uncertainty"
