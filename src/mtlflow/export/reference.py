"""What a served model's outputs look like: the reference distributions drift is measured against.

Each task contributes up to two *observations* of its exported outputs:

* ``classes``: the predicted labels (multiclass, binary ``"0"``/``"1"``, every chosen
  multilabel label or ``(none)``, every real token's tag), compared as class frequencies;
* ``scores``: the predicted scores (multiclass ``_score``, binary ``_probability``, every
  multilabel probability, regression ``_value``, every real token's tag score), compared
  as the frequencies of the five bins cut at the reference quintiles (deciles are
  recorded too, for people; five bins keep the statistic's sampling noise low on a
  validation split of a few hundred examples).

The export writes the reference (computed on the validation split) into the model card;
the server feeds live outputs through the same :func:`observations` and
:func:`bin_counts`, so both sides bin identically.

Example::

    outputs = {k: v.numpy() for k, v in module.serve(raw).items()}
    reference = reference_distribution("multiclass", "intent", outputs, labels=["buy", "cancel"])
"""

from __future__ import annotations

import numpy as np

NONE = "(none)"  # a multilabel example for which no label was chosen
QUANTILES = tuple(round(q / 10, 1) for q in range(11))
BIN_QUANTILES = (0.2, 0.4, 0.6, 0.8)


def _text(values: np.ndarray) -> np.ndarray:
    """Flattened string outputs, as they are (bytes from TF, str from JSON): decoded only per
    distinct value, in :func:`class_counts`."""
    return np.asarray(values, dtype=object).reshape(-1)


def _key(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def observations(task_type: str, task: str, outputs: dict) -> dict[str, np.ndarray]:
    """The task's monitored values in ``outputs`` (NumPy arrays), flattened.

    Returns ``{"classes": str array, "scores": float array}`` with the kinds whose outputs
    are present (a ``predict_<other task>`` response has none of this task's).
    """
    got: dict[str, np.ndarray] = {}

    def has(*suffixes):
        return all(f"{task}_{s}" in outputs for s in suffixes)

    if task_type == "multiclass":
        if has("label"):
            got["classes"] = _text(outputs[f"{task}_label"])
        if has("score"):
            got["scores"] = np.asarray(outputs[f"{task}_score"], np.float64).reshape(-1)
    elif task_type == "binary":
        if has("label"):
            got["classes"] = np.asarray(outputs[f"{task}_label"]).reshape(-1).astype(np.int64)
        if has("probability"):
            got["scores"] = np.asarray(outputs[f"{task}_probability"], np.float64).reshape(-1)
    elif task_type == "multilabel":
        if has("labels"):
            chosen = np.asarray(outputs[f"{task}_labels"], dtype=object)
            chosen = chosen.reshape(len(chosen), -1)
            picked = (chosen != b"") & (chosen != "")
            labels = [_key(v) for v in chosen[picked]] + [NONE] * int((~picked.any(axis=1)).sum())
            got["classes"] = np.array(labels, dtype=object)
        if has("probabilities"):
            got["scores"] = np.asarray(outputs[f"{task}_probabilities"], np.float64).reshape(-1)
    elif task_type == "regression":
        if has("value"):
            got["scores"] = np.asarray(outputs[f"{task}_value"], np.float64).reshape(-1)
    elif task_type == "tagging":
        if has("tags"):
            tags = _text(outputs[f"{task}_tags"])
            real = (tags != b"") & (tags != "")
            got["classes"] = tags[real]
            if has("tag_scores"):
                got["scores"] = np.asarray(outputs[f"{task}_tag_scores"], np.float64).reshape(-1)[real]
    return got


def class_inventory(task_type: str, state: dict) -> list[str]:
    """The classes a task can output, from its card entry (observed extras are added later)."""
    if task_type == "binary":
        return ["0", "1"]
    labels = [str(label) for label in state.get("labels", [])]
    if task_type == "multilabel":
        return labels + [NONE]
    if task_type == "tagging":
        return [label for label in labels if label not in ("PAD", "UNK")]
    return labels


def bin_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Counts of ``values`` in the bins ``(-inf, e0], (e0, e1], …, (e_last, inf)``."""
    index = np.searchsorted(np.asarray(edges, np.float64), np.asarray(values, np.float64), side="left")
    return np.bincount(index, minlength=len(edges) + 1)


def class_counts(values: np.ndarray, labels: list[str]) -> np.ndarray:
    """Counts per label of ``labels``; values not in it are counted in one extra last bin."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros(len(labels) + 1, np.int64)
    values = np.asarray(values)
    if not values.size:
        return out
    unique, counts = np.unique(values, return_counts=True)
    for value, count in zip(unique, counts):
        out[index.get(_key(value), len(labels))] += count
    return out


def reference_distribution(task_type: str, task: str, outputs: dict, labels: list[str] | None = None) -> dict:
    """The task's reference: class counts and frequencies, score deciles and quintile-bin frequencies."""
    found = observations(task_type, task, outputs)
    reference = {}
    if "classes" in found:
        inventory = list(labels or [])
        inventory += sorted({_key(v) for v in found["classes"]} - set(inventory))
        counts = class_counts(found["classes"], inventory)[:-1]
        reference["classes"] = {
            "labels": inventory,
            "counts": counts.tolist(),
            "frequencies": (counts / max(1, counts.sum())).tolist(),
        }
    if "scores" in found and len(found["scores"]):
        values = found["scores"]
        deciles = np.quantile(values, QUANTILES)
        edges = sorted(set(float(e) for e in np.quantile(values, BIN_QUANTILES)))
        counts = bin_counts(values, edges)
        reference["scores"] = {
            "quantiles": {str(q): float(v) for q, v in zip(QUANTILES, deciles)},
            "mean": float(np.mean(values)),
            "edges": edges,
            "counts": counts.tolist(),
            "frequencies": (counts / counts.sum()).tolist(),
        }
    return reference
