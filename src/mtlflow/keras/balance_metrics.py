"""The balancer's task weights and the tasks' gradient cosines as Keras metrics.

The train step reports what it measured to a *statistics* collaborator: ``add_weights(w)``
every step (the balancer's ``[T]`` weights) and ``add_gradients(G)`` on the steps that compute
the per-task gradients ``G`` (``[T, P]``). :class:`~mtlflow.train.gradient_stats.GradientStats`
keeps them for the trainer's history; :class:`BalanceMetrics` keeps them as Keras metrics, so
``fit``'s History, the progress bar, TensorBoard and EarlyStopping see them:

* ``<task>_weight``: the mean of the task's weight over the epoch's steps;
* ``cosine_<a>_<b>``: the mean over the epoch's measured steps of
  ``cos(g_a, g_b) = g_a·g_b / (‖g_a‖ ‖g_b‖)`` (negative: the tasks conflict on the shared
  parameters); NaN in an epoch without a measured step.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras.src.trainers.compile_utils import MetricsList

from mtlflow.balance.diagnostics import cosine_matrix


class MeasuredMean(keras.metrics.Mean):
    """A mean that is NaN, not 0, before its first value: "not measured" is not "0"."""

    def result(self):
        return tf.where(self.count > 0, self.total / tf.maximum(self.count, 1.0), float("nan"))


class ReportedMetrics(MetricsList):
    """The step's metrics (task losses, weights, cosines) as one entry of ``model.metrics``:
    a Keras metrics list, where callbacks (EarlyStopping's ``mode="auto"``) look metrics up."""

    def result(self):
        return self.get_result()


class BalanceMetrics:
    """Keras metrics fed by the train step (``add_weights``, ``add_gradients``).

    Args:
      tasks: the names of the tasks the balancer weighs, in its order.
      cosines: whether gradient cosines are reported (the step computes ``G`` on some steps).
    """

    def __init__(self, tasks: list[str], cosines: bool):
        self.tasks = list(tasks)
        self.weights = [keras.metrics.Mean(name=f"{t}_weight") for t in self.tasks]
        self.pairs = [(i, j) for i in range(len(self.tasks)) for j in range(i + 1, len(self.tasks))] if cosines else []
        self.cosines = [MeasuredMean(name=f"cosine_{self.tasks[i]}_{self.tasks[j]}") for i, j in self.pairs]

    @property
    def metrics(self) -> list:
        return self.weights + self.cosines

    def add_weights(self, weights: tf.Tensor) -> None:
        for i, metric in enumerate(self.weights):
            metric.update_state(weights[i])

    def add_gradients(self, gradients: tf.Tensor) -> None:
        if not self.cosines:
            return
        cosine = cosine_matrix(gradients)
        for (i, j), metric in zip(self.pairs, self.cosines):
            metric.update_state(cosine[i, j])
