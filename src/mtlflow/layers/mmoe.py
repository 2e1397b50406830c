"""Multi-gate Mixture-of-Experts (MMoE): shared experts, one softmax gate per task."""

from __future__ import annotations

import keras

from mtlflow.layers.experts import (
    ExpertStack, Gate, check_bool, check_positive_int, check_task_index, check_units, mix, task_masks)


@keras.saving.register_keras_serializable(package="mtlflow")
class MMoE(keras.layers.Layer):
    """Multi-gate Mixture-of-Experts: each task mixes the same experts with its own gate.

    ``f_k(x) = Σ_i g_k(x)_i f_i(x)``, ``g_k(x) = softmax(W_gk x)``, where the ``n`` experts
    ``f_i`` are MLPs of widths ``expert_units`` shared by all tasks and each task ``k`` has
    its own gate ``g_k`` (an MLP of ``gate_units`` before ``W_gk`` if given). For
    ``[batch, time, dim]`` input, gates are computed per position. With ``num_experts=1``
    every gate is identically 1 and the layer is a shared bottom.

    All experts are evaluated together: one ``[n, in, out]`` kernel and one einsum per
    expert layer (see :class:`~mtlflow.layers.experts.ExpertStack`).

    Args:
        num_tasks: number of task outputs ``T``.
        num_experts: number of shared experts ``n``. Default 8.
        expert_units: widths of each expert's layers. Default ``(16,)``.
        gate_units: widths of hidden layers in each gate before the softmax. Default ``()``.
        activation: activation of expert (and gate hidden) layers. Default ``"relu"``.
        dropout: dropout rate after every expert layer. Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.
        return_gates: also return the gates from ``call``. Default ``False``.

    Returns (from ``call``):
        A list of ``T`` tensors ``[batch, (time,) expert_units[-1]]``; with
        ``return_gates``, ``(outputs, gates)``, gates a list of ``T`` tensors
        ``[batch, (time,) n]`` summing to 1 (labels: :meth:`expert_names`).

    References:
        Ma, Zhao, Yi, Chen, Hong, Chi. "Modeling Task Relationships in Multi-task Learning
        with Multi-gate Mixture-of-Experts." KDD 2018.

    Example::

        layer = mtlflow.layers.MMoE(2, num_experts=4, expert_units=(16,), return_gates=True)
        outputs, gates = layer(keras.ops.ones((32, 8)))
        outputs[0].shape, gates[1].shape  # (32, 16), (32, 4)
    """

    gated = True

    def __init__(self, num_tasks: int, num_experts: int = 8, expert_units=(16,), gate_units=(),
                 activation="relu", dropout: float = 0.0, seed: int | None = None,
                 return_gates: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.num_experts = check_positive_int("num_experts", num_experts)
        self.expert_units = check_units("expert_units", expert_units)
        self.gate_units = check_units("gate_units", gate_units, allow_empty=True)
        self.return_gates = check_bool("return_gates", return_gates)
        self.experts = ExpertStack(self.num_experts, self.expert_units, activation, dropout, seed, name="experts")
        self.gates = [Gate(self.num_experts, self.gate_units, activation, name=f"gate_{t}")
                      for t in range(self.num_tasks)]
        self.supports_masking = True

    def build(self, input_shape):
        self.experts.build(input_shape)
        for gate in self.gates:
            gate.build(input_shape)

    def call(self, inputs, training=None):
        experts = self.experts(inputs, training=training)  # [..., n, units]
        gates = [gate(inputs) for gate in self.gates]  # T × [..., n]
        outputs = [mix(g, experts) for g in gates]
        return (outputs, gates) if self.return_gates else outputs

    def expert_names(self, task_index: int) -> list[str]:
        """Labels of the experts task ``task_index``'s gate weighs, in gate order."""
        check_task_index(self, task_index)
        return [f"expert_{i}" for i in range(self.num_experts)]

    def compute_output_shape(self, input_shape):
        lead = tuple(input_shape)[:-1]
        outputs = [lead + (self.expert_units[-1],) for _ in range(self.num_tasks)]
        gates = [lead + (self.num_experts,) for _ in range(self.num_tasks)]
        return (outputs, gates) if self.return_gates else outputs

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, self.return_gates)

    def get_config(self):
        experts = self.experts.get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "num_experts": self.num_experts,
                "expert_units": list(self.expert_units), "gate_units": list(self.gate_units),
                "activation": experts["activation"], "dropout": experts["dropout"], "seed": experts["seed"],
                "return_gates": self.return_gates}
