"""Runs a model over a split and computes every task's metrics plus the joint ones."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.ops.masked import masked_mean


class Evaluator:
    """Compiled forward pass over batches, then NumPy metrics over the labelled examples.

    Metrics (``{task: {...}, "joint": {...}}``):

    * each task's own metrics (see its type), ``loss`` (masked mean) and ``count``
      (labelled examples); masked examples are skipped;
    * ``joint.accuracy``: the share of examples on which *every* labelled task is right
      (for intent + slots: sentence / frame accuracy). Regression tasks have no notion
      of "right" and are left out of it;
    * ``joint.loss``: ``Σ_t w_t L_t`` over the whole split.


    After :meth:`evaluate`, :attr:`gates` holds ``{task: mean gate weight per expert}``
    for models with gated sharing layers (outputs ``gates.<task>``), averaged over the
    task's labelled examples (tokens for token-level tasks); it is empty otherwise.
    """

    def __init__(self, model, tasks: dict, weights: dict[str, float]):
        self.model, self.tasks, self.weights = model, tasks, weights
        self._forward = tf.function(self._forward_batch, reduce_retracing=True)
        self.gates: dict[str, np.ndarray] = {}

    def _forward_batch(self, inputs, labels, masks):
        predictions = self.model(inputs, training=False)
        sums = {}
        gate_sums = {}
        for name, task in self.tasks.items():
            loss = masked_mean(task.per_example_loss(labels[name], predictions[name]), masks[name])
            count = tf.reduce_sum(masks[name])
            sums[name] = (loss * count, count)
            gates = predictions.get(f"gates.{name}")
            if gates is not None:
                weight = tf.cast(masks[name], gates.dtype)[..., None]
                axes = list(range(len(gates.shape) - 1))
                gate_sums[name] = (tf.reduce_sum(gates * weight, axes), tf.reduce_sum(weight))
        predictions = {k: v for k, v in predictions.items() if k in self.tasks}
        return predictions, sums, gate_sums

    def collect(self, batches: tf.data.Dataset):
        """Per task: labels, predictions, labelled flags (token tasks: lists trimmed to length)."""
        gathered = {n: {"true": [], "pred": [], "labelled": []} for n in self.tasks}
        loss_sum = {n: 0.0 for n in self.tasks}
        count = {n: 0.0 for n in self.tasks}
        gate_total: dict = {}
        for inputs, labels, masks in batches:
            predictions, sums, gate_sums = self._forward(inputs, labels, masks)
            for name, (weights, n) in gate_sums.items():
                total, seen = gate_total.get(name, (0.0, 0.0))
                gate_total[name] = (total + weights.numpy(), seen + float(n))
            for name, task in self.tasks.items():
                loss_sum[name] += float(sums[name][0])
                count[name] += float(sums[name][1])
                y, p, m = labels[name].numpy(), predictions[name].numpy(), masks[name].numpy()
                out = gathered[name]
                if task.level == "token":
                    lengths = m.sum(axis=1).astype(int)
                    out["labelled"].extend(lengths > 0)
                    out["true"].extend(y[i, :k] for i, k in enumerate(lengths))
                    out["pred"].extend(p[i, :k] for i, k in enumerate(lengths))
                else:
                    out["labelled"].extend(m > 0)
                    out["true"].append(y)
                    out["pred"].append(p)
        for name, task in self.tasks.items():
            out = gathered[name]
            out["labelled"] = np.asarray(out["labelled"], bool)
            if task.level != "token":
                out["true"] = np.concatenate(out["true"]) if out["true"] else np.zeros(0)
                out["pred"] = np.concatenate(out["pred"]) if out["pred"] else np.zeros(0)
            out["loss"] = loss_sum[name] / max(count[name], 1.0)
        self.gates = {name: total / max(seen, 1.0) for name, (total, seen) in gate_total.items()}
        return gathered

    def evaluate(self, batches: tf.data.Dataset) -> dict:
        gathered = self.collect(batches)
        metrics: dict = {}
        n = len(next(iter(gathered.values()))["labelled"])
        all_right = np.ones(n, bool)
        judged = np.zeros(n, bool)
        for name, task in self.tasks.items():
            out = gathered[name]
            keep = out["labelled"]
            y_true, y_pred = _select(out["true"], keep), _select(out["pred"], keep)
            task_metrics = task.evaluate(y_true, y_pred) if keep.any() else {}
            metrics[name] = {**task.selected_metrics(task_metrics), "loss": out["loss"], "count": int(keep.sum())}
            right = task.correct(y_true, y_pred) if keep.any() else None
            if right is not None:
                all_right[np.flatnonzero(keep)[~right]] = False
                judged |= keep
        metrics["joint"] = {
            "accuracy": float(all_right[judged].mean()) if judged.any() else float("nan"),
            "loss": float(sum(self.weights[t] * gathered[t]["loss"] for t in self.tasks)),
            "count": int(judged.sum()),
        }
        return metrics


def _select(values, keep: np.ndarray):
    if isinstance(values, list):
        return [v for v, k in zip(values, keep) if k]
    return values[keep]
