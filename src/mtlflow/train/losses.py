"""Per-task losses of one batch (masked means, see :mod:`mtlflow.ops.masked`) and their fixed-weight sum."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.ops.masked import masked_mean


def task_losses(tasks, predictions, labels, masks) -> dict:
    """``{task: masked mean loss}`` for one batch."""
    return {
        name: masked_mean(task.per_example_loss(labels[name], predictions[name]), masks[name])
        for name, task in tasks.items()
    }


def weighted_total(losses: dict, weights: dict):
    """``Σ_t w_t L_t`` (fixed weights; the balancers replace this)."""
    return tf.add_n([weights[name] * loss for name, loss in losses.items()])


__all__ = ["masked_mean", "task_losses", "weighted_total"]
