"""Separate bottoms: one independent MLP per task (no sharing, the single-task baseline)."""

from __future__ import annotations

import keras

from mtlflow.layers.experts import MLP, check_positive_int, check_seed, check_units, sub_seed, task_masks


@keras.saving.register_keras_serializable(package="mtlflow")
class SeparateBottom(keras.layers.Layer):
    """No sharing: ``f_k(x) = MLP_k(x)``, one MLP per task with its own weights.

    The single-task baseline in a multi-task model's clothes: every task trains its own
    bottom, so no gradient of one task reaches another's parameters. Task ``k``'s MLP
    is the sublayer ``mlps[k]`` (named ``task_<k>``).

    Args:
        num_tasks: number of task outputs ``T``.
        units: widths of each task's MLP layers. Default ``(64,)``.
        activation: activation of every layer. Default ``"relu"``.
        dropout: dropout rate after every layer. Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.

    Returns (from ``call``):
        A list of ``T`` tensors ``[batch, (time,) units[-1]]``.

    Example::

        outputs = mtlflow.layers.SeparateBottom(3, units=(32,))(keras.ops.ones((4, 8)))
        len(outputs), outputs[0].shape  # 3, (4, 32)
    """

    gated = False

    def __init__(self, num_tasks: int, units=(64,), activation="relu", dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.units = check_units("units", units)
        self.seed = check_seed(seed)
        self.mlps = [MLP(self.units, activation, dropout, sub_seed(self.seed, 100 * t), name=f"task_{t}")
                     for t in range(self.num_tasks)]
        self.supports_masking = True

    def build(self, input_shape):
        for mlp in self.mlps:
            mlp.build(input_shape)

    def call(self, inputs, training=None):
        return [mlp(inputs, training=training) for mlp in self.mlps]

    def compute_output_shape(self, input_shape):
        return [mlp.compute_output_shape(input_shape) for mlp in self.mlps]

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, False)

    def get_config(self):
        config = self.mlps[0].get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "units": list(self.units),
                "activation": config["activation"], "dropout": config["dropout"], "seed": self.seed}
