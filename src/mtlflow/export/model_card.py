"""The model card, ``assets.extra/mtlflow.json``: what a server needs to know beyond the graph.

Contents: ``inputs`` (raw columns), ``tasks`` (type and label inventory), ``signatures``
(``serving_default`` and one ``predict_<task>`` per task, with their output names),
``padding`` (outputs with a data-dependent second axis, so a batching server can cut a
request's rows back to the shape it would have had alone), ``metrics`` at export time and
``reference`` (each task's output distribution on the validation split, for drift; see
:mod:`mtlflow.export.reference`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.export.reference import class_inventory, reference_distribution

FORMAT = "mtlflow-model-card/2"
REFERENCE_LIMIT = 10_000  # examples of the split the drift reference is computed on, at most

# Tagging outputs padded along axis 1: per token ("" / 0.0) and per span ("" / -1).
_TAGGING_PADDING = {
    "tags": ("tokens", ""), "tag_scores": ("tokens", 0.0),
    "span_types": ("spans", ""), "span_texts": ("spans", ""),
    "span_starts": ("spans", -1), "span_ends": ("spans", -1),
}


def padding(tasks: dict) -> dict[str, dict]:
    """``{output: {"group": …, "pad": …}}`` for the outputs whose axis 1 depends on the batch.

    Outputs of one group share that axis (a tagging task's tokens, or its spans); a row's
    extent is the last position at which any output of the group is not its pad value.
    """
    out = {}
    for name, task in tasks.items():
        if task.type_name == "tagging":
            for suffix, (group, pad) in _TAGGING_PADDING.items():
                out[f"{name}_{suffix}"] = {"group": f"{name}/{group}", "pad": pad}
    return out


def predict_in_chunks(module, features: dict[str, np.ndarray], chunk: int = 256) -> dict[str, np.ndarray]:
    """``module.serve`` over a whole split, outputs concatenated (padded axes re-padded)."""
    n = len(next(iter(features.values())))
    parts = []
    for start in range(0, n, chunk):
        raw = {}
        for name, spec in module.signature.items():
            values = features[name][start : start + chunk]
            values = values.tolist() if values.dtype == object else values
            raw[name] = tf.constant(values, dtype=spec.dtype)
        parts.append({k: v.numpy() for k, v in module.serve(raw).items()})
    return {k: _concat([p[k] for p in parts]) for k in parts[0]}


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    if arrays[0].ndim < 2:
        return np.concatenate(arrays)
    width = max(a.shape[1] for a in arrays)
    fill = b"" if arrays[0].dtype == object else (-1 if arrays[0].dtype.kind == "i" else 0)
    padded = [np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2), constant_values=fill)
              if a.shape[1] < width else a for a in arrays]
    return np.concatenate(padded)


def model_card(module, tasks: dict, config: dict, metrics: dict | None = None,
               reference_features: dict[str, np.ndarray] | None = None, reference_split: str | None = None) -> dict:
    """The card of ``module`` (an :class:`~mtlflow.export.inference.InferenceModule`).

    ``reference_features``: raw input columns of the split whose outputs become the drift
    reference (``reference_split`` names it); without them the card has no reference and
    ``reference_split`` (if given) is kept as ``reference_note``, the reason.
    """
    task_entries = {n: {"type": t.type_name, **t.state()} for n, t in tasks.items()}
    signatures = {"serving_default": {"tasks": list(tasks)}}
    signatures.update({f"predict_{n}": {"tasks": [n]} for n in tasks})
    reference = None
    if reference_features is not None and len(next(iter(reference_features.values()), ())):
        try:
            reference = _reference(module, tasks, task_entries, reference_features, reference_split)
        except (KeyError, ValueError, tf.errors.OpError) as exc:  # drift is optional: never fail the export
            reference_split = f"no reference: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return {
        "format": FORMAT,
        "inputs": {k: {"dtype": v.dtype.name, "shape": v.shape.as_list()} for k, v in module.signature.items()},
        "tasks": task_entries,
        "signatures": signatures,
        "padding": padding(tasks),
        "metrics": metrics or {},
        "reference": reference,
        **({} if reference or not reference_split else {"reference_note": reference_split}),
        "config": config,
    }


def _reference(module, tasks: dict, task_entries: dict, features: dict, split: str | None) -> dict:
    total = len(next(iter(features.values())))
    if total > REFERENCE_LIMIT:  # a seeded sample bounds the export's extra time
        keep = np.sort(np.random.default_rng(0).choice(total, REFERENCE_LIMIT, replace=False))
        features = {k: v[keep] for k, v in features.items()}
    outputs = predict_in_chunks(module, features)
    return {
        "split": split,
        "examples": int(min(total, REFERENCE_LIMIT)),
        "of": int(total),
        "tasks": {n: reference_distribution(t.type_name, n, outputs, class_inventory(t.type_name, task_entries[n]))
                  for n, t in tasks.items()},
    }
