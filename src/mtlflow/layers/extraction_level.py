"""One extraction network of PLE: per-task experts and gates beside shared experts."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import ExpertStack, Gate, mix, sub_seed


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
