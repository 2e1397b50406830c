"""Classify and Regress for a multi-task model: pick one task, answer in TF Serving's shapes.

TF Serving's Classify/Regress APIs take examples (feature name → values) and return, per
example, a list of ``(label, score)`` classes or one value. A multi-task model has several
candidate tasks, so the request's ``signature_name`` names one: ``predict_<task>`` (or the
task's name). Without it, the model's only classification (or regression) task is used;
if there are several, the request is INVALID_ARGUMENT and the message lists them. These
APIs need the mtlflow model card (a foreign SavedModel gets UNIMPLEMENTED).
"""

from __future__ import annotations

import grpc
import numpy as np

from mtlflow.serving.errors import ServingError, invalid
from mtlflow.serving.servable import DEFAULT_SIGNATURE, Servable, Signature

CLASSIFIERS = ("multiclass", "binary", "multilabel")
REGRESSORS = ("regression",)


def choose_task(servable: Servable, signature_name: str | None, kinds: tuple[str, ...], api: str) -> tuple[str, Signature]:
    """The task to answer with and the signature that computes it."""
    tasks = servable.tasks
    if not tasks:
        raise ServingError(f"{api} needs an mtlflow model card (assets.extra/mtlflow.json); "
                           f"model {servable.name!r} has none: use Predict", grpc.StatusCode.UNIMPLEMENTED)
    fitting = [n for n, t in tasks.items() if t.get("type") in kinds]
    hint = ", ".join(f"predict_{n}" for n in fitting) or "none"
    name = signature_name or ""
    if name in ("", DEFAULT_SIGNATURE):
        if len(fitting) != 1:
            raise invalid(f"{api}: model {servable.name!r} has {len(fitting)} tasks it can answer; "
                          f"set signature_name to one of: {hint}")
        task = fitting[0]
    else:
        task = name[len("predict_"):] if name.startswith("predict_") and name[len("predict_"):] in tasks else name
        if task not in fitting:
            raise invalid(f"{api}: signature {name!r} is not one of this model's {api} tasks; use one of: {hint}")
    key = f"predict_{task}" if f"predict_{task}" in servable.signatures else DEFAULT_SIGNATURE
    return task, servable.signature(key)


def example_inputs(examples: list[dict], signature: Signature, context: dict | None = None) -> dict[str, np.ndarray]:
    """Signature inputs from examples given as ``{feature: [values]}`` (one list per feature)."""
    if not examples:
        raise invalid("no examples given")
    columns: dict[str, list] = {k: [] for k in signature.inputs}
    for i, example in enumerate(examples):
        if not isinstance(example, dict):
            raise invalid(f"example {i}: expected an object of features, got {type(example).__name__}")
        merged = {**(context or {}), **example}
        for key, spec in signature.inputs.items():
            if key not in merged:
                raise invalid(f"example {i}: feature {key!r} is missing; the model takes {', '.join(signature.inputs)}")
            values = merged[key]
            values = values if isinstance(values, (list, tuple)) else [values]
            width = int(np.prod(spec.shape.as_list()[1:] or [1]))
            if len(values) != width:
                raise invalid(f"example {i}: feature {key!r} needs {width} value(s), got {len(values)}")
            columns[key].append(values[0] if spec.shape.rank == 1 else list(values))
    out = {}
    for key, spec in signature.inputs.items():
        values = columns[key]
        if spec.dtype.name == "string":
            if not all(isinstance(v, (str, bytes)) for v in values):
                raise invalid(f"feature {key!r}: expected strings")
            out[key] = np.array([v.encode() if isinstance(v, str) else v for v in values], dtype=object)
        else:
            flat = values if spec.shape.rank == 1 else [x for row in values for x in row]
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
                raise invalid(f"feature {key!r}: expected numbers")
            out[key] = np.asarray(values, dtype=spec.dtype.as_numpy_dtype)
    return out


def classes(servable: Servable, task: str, outputs: dict[str, np.ndarray]) -> list[list[tuple[str, float]]]:
    """Per example, ``(label, score)`` for every class of ``task``."""
    entry = servable.tasks[task]
    if entry["type"] == "binary":
        p = outputs[f"{task}_probability"].reshape(-1)
        return [[("0", float(1 - q)), ("1", float(q))] for q in p]
    labels = [str(label) for label in entry.get("labels", [])]
    probabilities = outputs[f"{task}_probabilities"]
    return [[(label, float(q)) for label, q in zip(labels, row)] for row in probabilities]


def values(task: str, outputs: dict[str, np.ndarray]) -> list[float]:
    """Per example, the regression value of ``task``."""
    return [float(v) for v in outputs[f"{task}_value"].reshape(-1)]
