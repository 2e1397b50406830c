"""Keras-native multi-task training: ``fit()`` that balances tasks, for any Keras model.

:class:`MultiTaskModel` wraps (or is subclassed into) a model with one output per task; its
``train_step`` is mtlflow's step (:mod:`mtlflow.train.step`, the one the config-driven
``Trainer`` runs): masked per-task losses, any :mod:`mtlflow.balance` method, per-group
optimizers, gradient centralization and clipping. :class:`StagedTraining` freezes or slows
parameter groups over epochs; the balancer's weights and the tasks' gradient cosines are
Keras metrics (:class:`BalanceMetrics`)::

    from mtlflow.keras import MultiTaskModel

    model = MultiTaskModel(two_head_model)
    model.compile(losses={"intent": "sparse_categorical_crossentropy", "sentiment": "sparse_categorical_crossentropy"},
                  balancer=mtlflow.balance.pcgrad())
    model.fit(x, y, epochs=3)
"""

from mtlflow.keras.balance_metrics import BalanceMetrics, MeasuredMean
from mtlflow.keras.callbacks import StagedTraining
from mtlflow.keras.multi_task_model import MultiTaskModel
from mtlflow.keras.step_state import StepState
from mtlflow.keras.variable_groups import variable_groups

__all__ = ["BalanceMetrics", "MeasuredMean", "MultiTaskModel", "StagedTraining", "StepState", "variable_groups"]
