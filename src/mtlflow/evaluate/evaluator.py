"""Runs a model over a split and computes every task's metrics plus the joint ones."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.data.unseen import SCORABLE_TYPES, UnseenGold
from mtlflow.evaluate.report import HEADLINE_METRICS
from mtlflow.evaluate.spans import spans_from_tags
from mtlflow.ops.masked import masked_mean


class Evaluator:
    """Compiled forward pass over batches, then NumPy metrics over the labelled examples.

    Metrics (``{task: {...}, "joint": {...}}``):

    * each task's own metrics (see its type), ``loss`` (masked mean) and ``count``
      (labelled examples); masked examples are skipped;
    * ``joint.accuracy``: the share of examples on which *every* labelled task is right
      (for intent + slots: sentence / frame accuracy). Regression tasks have no notion
      of "right" and are left out of it;
    * ``joint.loss``: ``Σ_t w_t L_t`` over the whole split;
    * ``joint.mean_score``: the mean over tasks of each one's headline score (AUC for binary,
      accuracy for multi-class, span F1 for tagging, micro F1 for multi-label; regression
      left out), each task on its own labelled rows. An early-stopping ``monitor`` for
      partially labelled data: unlike the summed loss it is not dominated by the task with
      the largest loss or the most rows, and unlike ``joint.accuracy`` it needs no row
      labelled for every task.

    Gold labels unseen in training (masked for the loss, listed in ``unseen``) are scored
    as errors or excluded, as :mod:`mtlflow.data.unseen` describes; each task's
    metrics then hold ``unseen_labels`` (split, rows, labels, how they were scored).
    Token-level gold is scored over the whole sentence: spans past ``max_length`` (the
    model's cut) count as missed, and the task's metrics hold ``past_max_length``.

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

    def collect(self, batches: tf.data.Dataset, unseen: UnseenGold | None = None):
        """Per task: labels, predictions, labelled flags (token tasks: lists trimmed to length).

        Token-level tasks also keep, under ``"unseen_pred"``, the untrimmed predictions of
        the rows ``unseen`` lists for them (their mask is 0, so the mask gives no length).
        """
        gathered = {n: {"true": [], "pred": [], "labelled": [], "unseen_pred": {}} for n in self.tasks}
        unseen_rows = {n: set(unseen.gold.get(n, {})) for n in self.tasks} if unseen else {}
        row = 0
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
                    for i in range(len(p)):
                        if row + i in unseen_rows.get(name, ()):
                            out["unseen_pred"][row + i] = p[i]
                    lengths = m.sum(axis=1).astype(int)
                    out["labelled"].extend(lengths > 0)
                    out["true"].extend(y[i, :k] for i, k in enumerate(lengths))
                    out["pred"].extend(p[i, :k] for i, k in enumerate(lengths))
                else:
                    out["labelled"].extend(m > 0)
                    out["true"].append(y)
                    out["pred"].append(p)
            row += len(next(iter(masks.values())))
        for name, task in self.tasks.items():
            out = gathered[name]
            out["labelled"] = np.asarray(out["labelled"], bool)
            if task.level != "token":
                out["true"] = np.concatenate(out["true"]) if out["true"] else np.zeros(0)
                out["pred"] = np.concatenate(out["pred"]) if out["pred"] else np.zeros(0)
            out["loss"] = loss_sum[name] / max(count[name], 1.0)
        self.gates = {name: total / max(seen, 1.0) for name, (total, seen) in gate_total.items()}
        return gathered

    def evaluate(self, batches: tf.data.Dataset, unseen: UnseenGold | None = None) -> dict:
        """Metrics of every task and the joint ones over ``batches`` (in split order).

        ``unseen``: the split's gold labels unseen in training (``SplitData.unseen``).
        """
        gathered = self.collect(batches, unseen)
        metrics: dict = {}
        n = len(next(iter(gathered.values()))["labelled"])
        all_right = np.ones(n, bool)
        judged = np.zeros(n, bool)
        excluded = np.zeros(n, bool)  # rows left out of the joint accuracy (policy exclude)
        for name, task in self.tasks.items():
            out = gathered[name]
            keep = out["labelled"]
            true, pred = out["true"], out["pred"]
            rows = unseen.rows(name) if unseen else []
            scorable = task.type_name in SCORABLE_TYPES
            if rows and unseen.policy == "count_as_errors" and scorable:
                true, pred, keep = _with_unseen(task, true, pred, keep, unseen.gold[name], out["unseen_pred"])
            elif rows:
                excluded[rows] = True
            long = unseen.past_max_length.get(name) if unseen else None
            if long and task.level == "token":
                true = _with_whole_sentences(true, long)
            y_true, y_pred = _select(true, keep), _select(pred, keep)
            task_metrics = task.evaluate(y_true, y_pred) if keep.any() else {}
            metrics[name] = {**task.selected_metrics(task_metrics), "loss": out["loss"], "count": int(keep.sum())}
            if unseen is not None:
                metrics[name]["unseen_labels"] = unseen.summary(name, scorable)
            if long and task.level == "token":
                metrics[name]["past_max_length"] = _past_max_length_summary(unseen, name, task.spec.scheme)
            right = task.correct(y_true, y_pred) if keep.any() else None
            if right is not None:
                all_right[np.flatnonzero(keep)[~right]] = False
                judged |= keep
        judged &= ~excluded
        metrics["joint"] = {
            "accuracy": float(all_right[judged].mean()) if judged.any() else float("nan"),
            "loss": float(sum(self.weights[t] * gathered[t]["loss"] for t in self.tasks)),
            "count": int(judged.sum()),
            "mean_score": mean_score(metrics),
        }
        return metrics


SCORE_METRICS = tuple(m for m in HEADLINE_METRICS if m != "rmse")
"""The headline metrics that are scores (higher is better), in the order that picks a task's one."""


def mean_score(metrics: dict) -> float:
    """Mean of each task's headline score (the first of :data:`SCORE_METRICS` it reports);
    tasks without one (regression) and NaN scores are left out; NaN when none is left."""
    scores = []
    for task_metrics in metrics.values():
        score = next((task_metrics[m] for m in SCORE_METRICS if m in task_metrics), None)
        if score is not None and not np.isnan(score):
            scores.append(float(score))
    return float(np.mean(scores)) if scores else float("nan")


def _with_unseen(task, true, pred, keep: np.ndarray, gold: dict, unseen_pred: dict):
    """Labels, predictions and flags with the unseen-gold rows added back (row order kept).

    Example-level (multiclass): the gold becomes an index past the inventory, one per
    unseen label, which no prediction can equal. Token-level: the gold is the row's tag
    list (strings, which :class:`~mtlflow.tasks.tagging.TaggingTask` scores as they are)
    and the prediction is cut to its length.
    """
    keep = keep.copy()
    rows = sorted(gold)
    keep[rows] = True
    if task.level == "token":
        true, pred = list(true), list(pred)
        for r in rows:
            true[r] = list(gold[r])
            pred[r] = unseen_pred[r][: len(gold[r])]
        return true, pred, keep
    extra = {label: len(task.labels) + i for i, label in enumerate(sorted(set(gold.values())))}
    true = np.array(true, copy=True)
    for r in rows:
        true[r] = extra[gold[r]]
    return true, pred, keep


def _with_whole_sentences(true: list, long: dict[int, list[str]]) -> list:
    """Token-level gold with the sentences cut at ``max_length`` put back whole (tag strings).

    The prediction stays as long as the model's input, so a gold span past the cut is a
    false negative and one that crosses it matches nothing: as if every tag past the cut
    were predicted ``O``, which is how a full-sentence score sees a model that stops there.
    """
    true = list(true)
    for row, tags in long.items():
        true[row] = list(tags)
    return true


def _past_max_length_summary(unseen: UnseenGold, task: str, scheme: str) -> dict:
    """``{split, rows, tokens, spans, max_length}``: the sentences cut at ``max_length``, the
    gold tokens past the cut, and the gold spans that reach past it (scored as missed)."""
    long, cut = unseen.past_max_length[task], unseen.max_length or 0
    reaching = sum(1 for tags in long.values() for *_, end in spans_from_tags(tags, scheme) if end > cut)
    return {"split": unseen.split, "rows": len(long), "tokens": sum(len(t) - cut for t in long.values()),
            "spans": reaching, "max_length": cut}


def _select(values, keep: np.ndarray):
    if isinstance(values, list):
        return [v for v, k in zip(values, keep) if k]
    return values[keep]
