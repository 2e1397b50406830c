"""Metrics per slice: the evaluation split cut by the values of one column.

A model can be good on average and bad for one kind of input (one channel, one product
line, one region); slicing the evaluation by a column shows it (TFMA's slices). For each
column in ``pipeline.slices``, the examples are grouped by their value of that column
(``(missing)`` when a row has none; list values joined by ``|``) and every group with at
least ``min_examples`` examples gets the full metrics of the evaluation; smaller groups
are reported with their ``count`` and ``too_few: true`` only, since metrics over a handful
of examples mislead.

Example::

    slice_metrics(["web", "app", "web"], evaluate=lambda idx: {"n": len(idx)}, min_examples=2)
    # {"app": {"count": 1, "too_few": True}, "web": {"n": 2, "count": 2}}
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

MISSING = "(missing)"


def slice_key(value: Any) -> str:
    """The slice a raw value belongs to: its text, ``a|b`` for a list, ``(missing)`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return MISSING
    if isinstance(value, (list, tuple)):
        return "|".join(str(v) for v in value) if value else MISSING
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def slice_metrics(values: Sequence[Any], evaluate: Callable[[np.ndarray], dict],
                  min_examples: int = 10) -> dict[str, dict]:
    """``{slice: metrics}`` over the groups of equal ``slice_key(values[i])``.

    Args:
      values: one raw value per evaluation example, in evaluation order.
      evaluate: metrics of the examples at the given (sorted) indices.
      min_examples: smaller slices get only ``{"count": n, "too_few": True}``.

    Returns:
      Slices by descending size (ties by name); each has its ``count``.
    """
    if min_examples < 1:
        raise ValueError(f"Argument `min_examples` must be >= 1. Received: min_examples={min_examples}")
    groups: dict[str, list[int]] = {}
    for i, value in enumerate(values):
        groups.setdefault(slice_key(value), []).append(i)
    out: dict[str, dict] = {}
    for key in sorted(groups, key=lambda k: (-len(groups[k]), k)):
        index = np.asarray(groups[key], dtype=np.int64)
        if len(index) < min_examples:
            out[key] = {"count": int(len(index)), "too_few": True}
        else:
            out[key] = {**evaluate(index), "count": int(len(index))}
    return out


def headline(task_metrics: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The metric that stands for a task in one cell (accuracy, f1, auc, micro_f1, rmse)."""
    from mtlflow.evaluate.report import HEADLINE_METRICS

    for name in HEADLINE_METRICS:
        if name in task_metrics:
            return name, task_metrics[name]
    return None


def slices_markdown(slices: Mapping[str, Mapping[str, dict]], min_examples: int) -> str:
    """One table per sliced column: a row per slice, its count and each task's headline metric."""
    lines = ["## Metrics per slice", ""]
    for column, groups in slices.items():
        tasks: list[str] = []
        for metrics in groups.values():
            tasks += [t for t, m in metrics.items() if isinstance(m, Mapping) and t not in tasks]
        names = {}
        for task in tasks:
            found = next((headline(m[task]) for m in groups.values() if isinstance(m.get(task), Mapping)), None)
            if found:
                names[task] = found[0]
        header = ["slice", "count", *(f"{t} {n}" for t, n in names.items())]
        lines += [f"### {column}", "", "| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
        for key, metrics in groups.items():
            if metrics.get("too_few"):
                cells = [f"(fewer than {min_examples})"] * len(names)
            else:
                cells = [_cell((metrics.get(t) or {}).get(n)) for t, n in names.items()]
            lines.append("| " + " | ".join([key.replace("|", "\\|"), str(metrics["count"]), *cells]) + " |")
        lines.append("")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
