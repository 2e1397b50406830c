"""Progressive Layered Extraction (PLE): stacked CGC levels with a shared gate between levels."""

from __future__ import annotations

import keras

from mtlflow.layers.extraction_level import ExtractionLevel, ple_expert_names
from mtlflow.layers.experts import (
    check_bool, check_positive_int, check_seed, check_task_index, check_units, sub_seed, task_masks)


@keras.saving.register_keras_serializable(package="mtlflow")
class PLE(keras.layers.Layer):
    """Progressive Layered Extraction: ``levels`` extraction networks, separating tasks gradually.

    Each level ``j`` has ``task_experts`` experts per task ``E_k^j`` and ``shared_experts``
    shared experts ``E_s^j`` (MLPs of widths ``expert_units``). Task ``k``'s experts and
    gate read the task's previous output ``y_k^{j-1}``, the shared experts and the shared
    gate read the previous shared output ``y_s^{j-1}`` (at level 1 all read ``x``)::

        y_k^j = Σ_i g_k^j(y_k^{j-1})_i [E_k^j(y_k^{j-1}), E_s^j(y_s^{j-1})]_i
        y_s^j = Σ_i g_s^j(y_s^{j-1})_i [E_1^j(y_1^{j-1}), …, E_T^j(y_T^{j-1}), E_s^j(y_s^{j-1})]_i

    with ``g(·) = softmax(W ·)``. The final level has task gates only (it is a CGC), so
    ``levels=1`` is :class:`CGC`. Gates are computed per position for 3-D input.

    Args:
        num_tasks: number of task outputs ``T``.
        levels: number of extraction levels. Default 2.
        shared_experts: number of shared experts per level. Default 1.
        task_experts: number of experts per task per level. Default 1.
        expert_units: widths of each expert's layers. Default ``(16,)``.
        activation: activation of the expert layers. Default ``"relu"``.
        dropout: dropout rate after every expert layer. Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.
        return_gates: also return the final level's task gates. Default ``False``.

    Returns (from ``call``):
        A list of ``T`` tensors ``[batch, (time,) expert_units[-1]]``; with
        ``return_gates``, ``(outputs, gates)``, gates the final level's ``T`` task gates
        ``[batch, (time,) task_experts + shared_experts]`` (labels: :meth:`expert_names`).

    References:
        Tang, Liu, Zhao, Gong. "Progressive Layered Extraction (PLE): A Novel Multi-Task
        Learning (MTL) Model for Personalized Recommendations." RecSys 2020.

    Example::

        layer = mtlflow.layers.PLE(3, levels=2, shared_experts=2, task_experts=1)
        outputs = layer(keras.ops.ones((32, 10, 8)))
        len(outputs), outputs[0].shape  # 3, (32, 10, 16)
    """

    gated = True

    def __init__(self, num_tasks: int, levels: int = 2, shared_experts: int = 1, task_experts: int = 1,
                 expert_units=(16,), activation="relu", dropout: float = 0.0, seed: int | None = None,
                 return_gates: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.num_levels = check_positive_int("levels", levels)
        self.shared_experts = check_positive_int("shared_experts", shared_experts)
        self.task_experts = check_positive_int("task_experts", task_experts)
        self.expert_units = check_units("expert_units", expert_units)
        self.return_gates = check_bool("return_gates", return_gates)
        self.seed = check_seed(seed)
        self.levels = [ExtractionLevel(self.num_tasks, self.shared_experts, self.task_experts, self.expert_units,
                                       activation, dropout, sub_seed(self.seed, 10_000 * j),
                                       shared_gate=j < self.num_levels - 1, name=f"level_{j}")
                       for j in range(self.num_levels)]
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        for level in self.levels:
            level.build(shape)
            shape = shape[:-1] + (self.expert_units[-1],)

    def call(self, inputs, training=None):
        task_inputs, shared = [inputs] * self.num_tasks, inputs
        for level in self.levels:
            task_inputs, shared, gates = level(task_inputs, shared, training=training)
        return (task_inputs, gates) if self.return_gates else task_inputs

    def expert_names(self, task_index: int) -> list[str]:
        """Labels of the experts the final level's gate of ``task_index`` weighs, in gate order."""
        return ple_expert_names(check_task_index(self, task_index), self.task_experts, self.shared_experts)

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape)[:-1]
        outputs = [lead + (self.expert_units[-1],) for _ in range(self.num_tasks)]
        gates = [lead + (self.task_experts + self.shared_experts,) for _ in range(self.num_tasks)]
        return (outputs, gates) if self.return_gates else outputs

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, self.return_gates)

    def get_config(self):
        experts = self.levels[0].shared.get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "levels": self.num_levels,
                "shared_experts": self.shared_experts, "task_experts": self.task_experts,
                "expert_units": list(self.expert_units), "activation": experts["activation"],
                "dropout": experts["dropout"], "seed": self.seed, "return_gates": self.return_gates}
