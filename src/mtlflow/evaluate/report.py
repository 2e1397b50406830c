"""Render evaluation metrics as Markdown and write them to ``metrics.json`` / ``metrics.md``."""

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mtlflow.files import write_text_atomic

_write_atomic = write_text_atomic  # the name the pipeline's stages import

PER_TYPE_KEY = "per_type"
UNSEEN_KEY = "unseen_labels"
PAST_MAX_LENGTH_KEY = "past_max_length"

HEADLINE_METRICS = ("auc", "accuracy", "f1", "micro_f1", "rmse")
"""The metric that stands for a task in one-line summaries, by task type."""


def _cell(value: Any) -> str:
    """Format one table cell: floats to 4 decimals, ints as is, NaN / None as ``n/a``."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, np.generic))


def _table(header: list[str], rows: list[list[Any]], numeric_from: int) -> list[str]:
    """Markdown table lines; columns from index ``numeric_from`` on are right-aligned."""
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def metrics_markdown(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown report of ``{task: {metric: value}}``.

    The main table has one row per (task, scalar metric), in insertion order;
    nested values (e.g. a span task's ``per_type`` dict) are left out of it.
    Each task with a ``per_type`` mapping gets a second table with one row per
    chunk type and one column per per-type metric. The tasks' ``unseen_labels``
    (gold labels unseen in training; :mod:`mtlflow.data.unseen`) make a table, and the
    token-level tasks' ``past_max_length`` (sentences the model saw cut) a last one.  Floats are shown to 4
    decimals and NaN as ``n/a``.
    """
    rows = []
    for task, task_metrics in metrics.items():
        if not isinstance(task_metrics, Mapping):
            raise TypeError(f"metrics[{task!r}] must be a mapping of metric name to value")
        rows += [[task, name, value] for name, value in task_metrics.items() if _is_scalar(value)]
    lines = ["## Metrics", "", *_table(["task", "metric", "value"], rows, numeric_from=2)]

    for task, task_metrics in metrics.items():
        per_type = task_metrics.get(PER_TYPE_KEY)
        if not isinstance(per_type, Mapping) or not per_type:
            continue
        columns = list(dict.fromkeys(name for values in per_type.values() for name in values))
        type_rows = [[kind, *(values.get(c) for c in columns)] for kind, values in per_type.items()]
        lines += ["", f"### {task}: per-type metrics", "", *_table(["type", *columns], type_rows, numeric_from=1)]

    unseen = [(task, m[UNSEEN_KEY]) for task, m in metrics.items() if isinstance(m.get(UNSEEN_KEY), Mapping)]
    if unseen:
        unseen_rows = [[u.get("split", ""), task, u.get("scored", ""),
                        ", ".join(f"{k} ×{v}" for k, v in u.get("labels", {}).items()) or "none", u.get("rows", 0)]
                       for task, u in unseen]
        lines += ["", "### Gold labels unseen in training", "",
                  *_table(["split", "task", "scored", "labels", "rows"], unseen_rows, numeric_from=4)]
    cut = [(task, m[PAST_MAX_LENGTH_KEY]) for task, m in metrics.items()
           if isinstance(m.get(PAST_MAX_LENGTH_KEY), Mapping)]
    if cut:
        cut_rows = [[c.get("split", ""), task, c.get("max_length"), c.get("rows"), c.get("tokens"), c.get("spans")]
                    for task, c in cut]
        lines += ["", "### Sentences longer than max_length (gold spans past the cut scored as missed)", "",
                  *_table(["split", "task", "max_length", "rows", "tokens past", "spans past"], cut_rows, numeric_from=2)]
    return "\n".join(lines) + "\n"


def json_safe(value: Any) -> Any:
    """Copy ``value`` with NumPy scalars/arrays made plain and non-finite floats replaced by ``None``."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def write_metrics(metrics: Mapping[str, Any], directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write ``metrics.json`` (indent 2, UTF-8, NaN/inf as ``null``) and ``metrics.md`` into ``directory``.

    Each file is written atomically; ``directory`` is created if missing.
    Returns the two paths.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "metrics.json", out / "metrics.md"
    text = json.dumps(json_safe(metrics), indent=2, ensure_ascii=False, allow_nan=False)
    write_text_atomic(json_path, text + "\n")
    write_text_atomic(md_path, metrics_markdown(metrics))
    return json_path, md_path
