"""TensorBoard scalars of one epoch: losses, task weights, gradient cosines, validation metrics, gates."""

from __future__ import annotations

import tensorflow as tf


def log_epoch(writer, record: dict, weights: dict) -> None:
    """Writes ``record`` (one entry of ``history.json``) at step ``record['epoch']``; ``weights``: the
    fixed task weights, shown for tasks the balancer does not weigh."""
    if writer is None:
        return
    step = record["epoch"]
    stats = record.get("balance") or {}
    names = stats.get("tasks", [])
    with writer.as_default():
        for name, value in record["train_loss"].items():
            tf.summary.scalar(f"{name}/train_loss", value, step=step)
            weight = stats["weights"][names.index(name)] if name in names else weights[name]
            tf.summary.scalar(f"{name}/weight", weight, step=step)
        for i, a in enumerate(names):
            if "norm_ratio" in stats:
                tf.summary.scalar(f"{a}/gradient_norm_ratio", stats["norm_ratio"][i], step=step)
            for j, b in enumerate(names[i + 1:], i + 1):
                if "cosine" in stats:
                    tf.summary.scalar(f"gradients/cosine_{a}_{b}", stats["cosine"][i][j], step=step)
                    tf.summary.scalar(f"gradients/conflict_rate_{a}_{b}", stats["conflict_rate"][i][j], step=step)
        for name, metrics in record.get("validation", {}).items():
            for metric, value in metrics.items():
                if isinstance(value, (int, float)) and metric != "count":
                    tf.summary.scalar(f"{name}/validation_{metric}", value, step=step)
        for name, weights in record.get("gates", {}).items():
            for i, weight in enumerate(weights):
                tf.summary.scalar(f"{name}/gate_expert_{i}", weight, step=step)
    writer.flush()
