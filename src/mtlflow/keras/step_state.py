"""The train step's state as Keras variables, so that ``model.save()`` keeps it.

The step (:class:`mtlflow.train.step.TrainStep`) owns no variables: the balancer's state
(e.g. uncertainty weighting's log-variances and their Adam moments, DWA's loss windows,
PCGrad's random stream), the step counter and the epoch are handed to it. The trainer keeps
them in ``tf.Variable`` s of its checkpoint; :class:`StepState` keeps them as the weights of a
Keras layer, which ``.keras`` files store and ``keras.models.load_model`` restores.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mtlflow.balance import StateVariables


class StepState(keras.layers.Layer):
    """Non-trainable weights: ``balance`` (the balancer's state, ``value()``/``assign()``),
    ``step`` and ``epoch`` (int64 counters).

    Args:
      initial_state: the balancer's ``init(num_tasks)``.
    """

    def __init__(self, initial_state, **kwargs):
        super().__init__(**kwargs)

        def variable(tensor, name):
            tensor = tf.convert_to_tensor(tensor)
            weight = self.add_weight(shape=tensor.shape, dtype=tensor.dtype.name, trainable=False, name=name,
                                     initializer="zeros")
            weight.assign(tensor)
            return weight.value

        self.balance = StateVariables(initial_state, name="balance_state", variable=variable)
        self.step = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="step").value
        self.epoch = self.add_weight(shape=(), dtype="int64", initializer="zeros", trainable=False, name="epoch").value
        self.built = True
