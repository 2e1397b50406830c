"""Customized Gate Control (CGC): per task, a gate over its own experts and the shared ones."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import (
    ExpertStack, Gate, check_bool, check_positive_int, check_task_index, check_units, mix, sub_seed,
    task_masks)


def ple_expert_names(task_index: int, task_experts: int, shared_experts: int) -> list[str]:
    """Gate order of a CGC/PLE task gate: the task's own experts, then the shared ones."""
    return ([f"task_{task_index}/expert_{i}" for i in range(task_experts)]
            + [f"shared/expert_{i}" for i in range(shared_experts)])


class ExtractionLevel(keras.layers.Layer):
    """One extraction network of PLE (a CGC when ``shared_gate=False``).

    ``call(task_inputs, shared_input)``: task ``k``'s experts and gate read
    ``task_inputs[k]``, the shared experts (and the shared gate) read ``shared_input``;
    all inputs have the same shape. Returns ``(task_outputs, shared_output, task_gates)``:
    ``y_k = Σ_i g_k(x_k)_i [E_k(x_k), E_s(x_s)]_i`` and, with a shared gate,
    ``y_s = Σ_i g_s(x_s)_i [E_1(x_1), …, E_T(x_T), E_s(x_s)]_i`` (else ``None``).
    """

    def __init__(self, num_tasks: int, shared_experts: int, task_experts: int, expert_units, activation,
                 dropout: float, seed: int | None, shared_gate: bool, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = num_tasks
        self.shared = ExpertStack(shared_experts, expert_units, activation, dropout, seed, name="shared_experts")
        self.task = [ExpertStack(task_experts, expert_units, activation, dropout, sub_seed(seed, 100 * (t + 1)),
                                 name=f"task_{t}_experts") for t in range(num_tasks)]
        self.task_gates = [Gate(task_experts + shared_experts, name=f"task_{t}_gate") for t in range(num_tasks)]
        self.shared_gate = (Gate(num_tasks * task_experts + shared_experts, name="shared_gate")
                            if shared_gate else None)

    def build(self, input_shape):
        for sublayer in [self.shared, *self.task, *self.task_gates] + ([self.shared_gate] if self.shared_gate else []):
            sublayer.build(input_shape)

    def call(self, task_inputs, shared_input, training=None):
        shared = self.shared(shared_input, training=training)  # [..., S, units]
        own = [experts(x, training=training) for experts, x in zip(self.task, task_inputs)]  # [..., K, units]
        gates = [gate(x) for gate, x in zip(self.task_gates, task_inputs)]
        outputs = [mix(g, ops.concatenate([e, shared], axis=-2)) for g, e in zip(gates, own)]
        shared_output = None
        if self.shared_gate is not None:
            shared_output = mix(self.shared_gate(shared_input), ops.concatenate([*own, shared], axis=-2))
        return outputs, shared_output, gates


@keras.saving.register_keras_serializable(package="mtlflow")
class CGC(keras.layers.Layer):
    """Customized Gate Control: task-specific experts beside shared ones, one gate per task.

    Task ``k`` mixes its own ``task_experts`` experts ``E_k`` and the ``shared_experts``
    experts ``E_s`` (all MLPs of widths ``expert_units``) with its gate:
    ``y_k = Σ_i g_k(x)_i S_k(x)_i``, ``S_k(x) = [E_k(x), E_s(x)]``,
    ``g_k(x) = softmax(W_k x)``. Task experts receive only their task's gradient, so a
    conflicting task cannot overwrite them. Gates are computed per position for
    ``[batch, time, dim]`` input. This is PLE with one level (:class:`PLE`).

    Args:
        num_tasks: number of task outputs ``T``.
        shared_experts: number of shared experts. Default 1.
        task_experts: number of experts per task. Default 1.
        expert_units: widths of each expert's layers. Default ``(16,)``.
        activation: activation of the expert layers. Default ``"relu"``.
        dropout: dropout rate after every expert layer. Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.
        return_gates: also return the gates from ``call``. Default ``False``.

    Returns (from ``call``):
        A list of ``T`` tensors ``[batch, (time,) expert_units[-1]]``; with
        ``return_gates``, ``(outputs, gates)``, gates a list of ``T`` tensors
        ``[batch, (time,) task_experts + shared_experts]`` summing to 1, task experts
        first (labels: :meth:`expert_names`).

    References:
        Tang, Liu, Zhao, Gong. "Progressive Layered Extraction (PLE): A Novel Multi-Task
        Learning (MTL) Model for Personalized Recommendations." RecSys 2020.

    Example::

        layer = mtlflow.layers.CGC(2, shared_experts=2, task_experts=1, return_gates=True)
        outputs, gates = layer(keras.ops.ones((32, 8)))
        gates[0].shape, layer.expert_names(0)
        # (32, 3), ['task_0/expert_0', 'shared/expert_0', 'shared/expert_1']
    """

    gated = True

    def __init__(self, num_tasks: int, shared_experts: int = 1, task_experts: int = 1, expert_units=(16,),
                 activation="relu", dropout: float = 0.0, seed: int | None = None,
                 return_gates: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.shared_experts = check_positive_int("shared_experts", shared_experts)
        self.task_experts = check_positive_int("task_experts", task_experts)
        self.expert_units = check_units("expert_units", expert_units)
        self.return_gates = check_bool("return_gates", return_gates)
        self.level = ExtractionLevel(self.num_tasks, self.shared_experts, self.task_experts, self.expert_units,
                                     activation, dropout, seed, shared_gate=False, name="level_0")
        self.supports_masking = True

    def build(self, input_shape):
        self.level.build(input_shape)

    def call(self, inputs, training=None):
        outputs, _, gates = self.level([inputs] * self.num_tasks, inputs, training=training)
        return (outputs, gates) if self.return_gates else outputs

    def expert_names(self, task_index: int) -> list[str]:
        """Labels of the experts task ``task_index``'s gate weighs, in gate order."""
        return ple_expert_names(check_task_index(self, task_index), self.task_experts, self.shared_experts)

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape)[:-1]
        outputs = [lead + (self.expert_units[-1],) for _ in range(self.num_tasks)]
        gates = [lead + (self.task_experts + self.shared_experts,) for _ in range(self.num_tasks)]
        return (outputs, gates) if self.return_gates else outputs

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, self.return_gates)

    def get_config(self):
        experts = self.level.shared.get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "shared_experts": self.shared_experts,
                "task_experts": self.task_experts, "expert_units": list(self.expert_units),
                "activation": experts["activation"], "dropout": experts["dropout"], "seed": experts["seed"],
                "return_gates": self.return_gates}
