"""Shared bottom: one MLP that every task reads (hard parameter sharing)."""

from __future__ import annotations

import keras

from mtlflow.layers.experts import MLP, check_positive_int, check_units, task_masks


@keras.saving.register_keras_serializable(package="mtlflow")
class SharedBottom(keras.layers.Layer):
    """Hard parameter sharing: ``f_k(x) = MLP(x)`` for every task ``k``.

    One MLP (widths ``units``, dropout after each layer) is the whole shared
    representation; each task's tower reads the same tensor. The classic multi-task
    baseline (Caruana, "Multitask Learning", Machine Learning 28, 1997).

    Args:
        num_tasks: number of task outputs ``T``.
        units: widths of the MLP layers. Default ``(113,)``.
        activation: activation of every layer. Default ``"relu"``.
        dropout: dropout rate after every layer. Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.

    Returns (from ``call``):
        A list of ``T`` tensors (the same one), ``[batch, (time,) units[-1]]``.

    Example::

        outputs = mtlflow.layers.SharedBottom(2, units=(64,))(keras.ops.ones((4, 8)))
        [o.shape for o in outputs]  # [(4, 64), (4, 64)]
    """

    gated = False

    def __init__(self, num_tasks: int, units=(113,), activation="relu", dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.units = check_units("units", units)
        self.mlp = MLP(self.units, activation, dropout, seed, name="mlp")
        self.supports_masking = True

    def build(self, input_shape):
        self.mlp.build(input_shape)

    def call(self, inputs, training=None):
        return [self.mlp(inputs, training=training)] * self.num_tasks

    def compute_output_shape(self, input_shape):
        return [self.mlp.compute_output_shape(input_shape) for _ in range(self.num_tasks)]

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, False)

    def get_config(self):
        config = self.mlp.get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "units": list(self.units),
                "activation": config["activation"], "dropout": config["dropout"], "seed": config["seed"]}
