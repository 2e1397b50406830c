"""Customized Gate Control (CGC): per task, a gate over its own experts and the shared ones."""

from __future__ import annotations

import keras

from mtlflow.layers.ple import PLE


@keras.saving.register_keras_serializable(package="mtlflow")
class CGC(PLE):
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

    def __init__(self, num_tasks: int, shared_experts: int = 1, task_experts: int = 1, expert_units=(16,),
                 activation="relu", dropout: float = 0.0, seed: int | None = None,
                 return_gates: bool = False, **kwargs):
        super().__init__(num_tasks, levels=1, shared_experts=shared_experts, task_experts=task_experts,
                         expert_units=expert_units, activation=activation, dropout=dropout, seed=seed,
                         return_gates=return_gates, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["levels"]
        return config
