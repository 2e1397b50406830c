"""Rows of a table → arrays of raw inputs, per-task labels and per-task masks.

A label that is ``null`` (an empty CSV cell, an empty JointBERT ``label`` line) becomes
mask 0: the row still trains the other tasks. A JSON Lines row *without* the label's
key is an error naming ``file:line``, unless ``data.on_missing_label: mask`` says a
missing key means unlabelled too. A label of the wrong JSON type (an array for a
multiclass task, a number where a tag list belongs; see
:mod:`mtlflow.data.label_types`) or one that cannot be encoded raises with its file
and line, or, with ``data.on_bad_label: mask``, is masked. A row whose *inputs* are bad
raises, or with ``data.on_bad_row: skip`` is skipped. Every masked label and skipped
row is listed with its ``file:line`` in :attr:`EncodedSplit.issues` (the run's
``data_report.json``): nothing is dropped silently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mtlflow.config import Config
from mtlflow.data.label_types import label_type_problem
from mtlflow.data.table import Table
from mtlflow.data.tokenize import tokenize
from mtlflow.errors import ConfigError, DataError
from mtlflow.data.unseen import UnseenGold, record_unseen
from mtlflow.tasks import LabelError, Task

_SHOWN = 5  # messages kept per kind of issue


@dataclass
class EncodedSplit:
    """One split, ready for the tf.data pipeline.

    Attributes:
      features: raw model inputs keyed by column (text: str array; dense: ``[n, dim]``
        float32; numeric: float32; categorical: str array).
      labels: per task, an array (or, for token-level tasks, a list of int arrays).
      masks: per task, float32 ``[n]``: 1 where the example carries that task's label.
      locations: ``file:line`` of every example.
      issues: skipped rows, and per task the counts, first messages and ``masked_rows``
        (every masked label's ``location`` and ``why``: ``null``, ``missing key``,
        ``bad label`` with its ``reason``, or ``filtered`` by ``where:``).
      unseen: gold labels masked because training lacked them, kept for evaluation
        (:mod:`mtlflow.data.unseen`).
    """

    name: str
    features: dict[str, np.ndarray]
    labels: dict[str, Any]
    masks: dict[str, np.ndarray]
    locations: list[str]
    issues: dict = field(default_factory=dict)
    unseen: UnseenGold = field(default_factory=UnseenGold)

    def __len__(self) -> int:
        return len(self.locations)


def check_columns(table: Table, config: Config) -> None:
    """Every column the config names must exist in the table (a ConfigError names the key)."""
    wanted: list[tuple[str, str]] = []
    if config.inputs.text:
        wanted.append(("inputs.text.column", config.inputs.text.column))
    if config.inputs.dense:
        wanted.append(("inputs.dense.column", config.inputs.dense.column))
    wanted += [(f"inputs.numeric[{i}]", c) for i, c in enumerate(config.inputs.numeric)]
    wanted += [(f"inputs.categorical[{i}]", c) for i, c in enumerate(config.inputs.categorical)]
    wanted += [(f"tasks[{i}].column", t.label_column) for i, t in enumerate(config.tasks)]
    wanted += [(f"tasks[{i}].where", t.where) for i, t in enumerate(config.tasks) if t.where]
    present = set(table.columns)
    for key, column in wanted:
        if column not in present:
            shown = ", ".join(table.columns[:20]) + (", ..." if len(table.columns) > 20 else "")
            raise ConfigError(f"{key}: column {column!r} is not in {table.source} (columns: {shown})")


def fit_tasks(table: Table, config: Config, tasks: dict[str, Task]) -> None:
    """Learns label inventories and statistics from the training table.

    Values of the wrong JSON type are left out (encoding reports them with their line),
    so an array given to a multiclass task never becomes a class.
    """
    for spec in config.tasks:
        task = tasks[spec.name]
        values = [row.get(spec.label_column) for row in table.rows]
        task.fit([v for v in values if label_type_problem(v, task.type_name, table.typed) is None])


def encode_table(table: Table, config: Config, tasks: dict[str, Task], name: str) -> EncodedSplit:
    """Encodes every row of ``table`` (see the module docstring for the error policy)."""
    check_columns(table, config)
    inputs, data = config.inputs, config.data
    features: dict[str, list] = {}
    labels: dict[str, list] = {t: [] for t in tasks}
    masks: dict[str, list] = {t: [] for t in tasks}
    locations: list[str] = []
    skipped = [{"location": loc, "reason": reason} for loc, reason in table.skipped]
    masked: dict[str, dict] = {
        t: {"missing": 0, "bad": 0, "filtered": 0, "messages": [], "masked_rows": []} for t in tasks}
    max_length = inputs.text.max_length if inputs.text else None
    unseen = UnseenGold(data.unseen_labels, name, max_length=max_length)

    for index, (row, location) in enumerate(zip(table.rows, table.locations)):
        try:
            row_features, tokens = _encode_inputs(row, inputs, location)
        except DataError as exc:
            if data.on_bad_row != "skip":
                raise
            skipped.append({"location": location, "reason": str(exc)})
            continue
        for column, value in row_features.items():
            features.setdefault(column, []).append(value)
        for spec in config.tasks:
            task, report = tasks[spec.name], masked[spec.name]
            cell = table.cell_location(index, spec.label_column)
            try:
                label, mask = task.encode(_label_value(row, spec, task, table, cell, data.on_missing_label), cell)
                if task.level == "token" and mask:
                    label = _align(label, tokens, spec.name, cell, inputs.text)
                    if max_length and len(label) > max_length:
                        unseen.add_past_max_length(spec.name, len(locations), [task.labels[i] for i in label])
                        label = label[:max_length]
            except LabelError as exc:
                if data.on_bad_label != "mask":
                    raise
                label, mask = task.missing_label(), 0.0
                report["bad"] += 1
                report["masked_rows"].append({"location": cell, "why": "bad label", "reason": str(exc)})
                record_unseen(unseen, task, exc, row.get(spec.label_column), len(locations), tokens, max_length)
                if len(report["messages"]) < _SHOWN:
                    report["messages"].append(str(exc))
            else:
                if mask == 0.0:
                    report["missing"] += 1
                    why = "null" if spec.label_column in row else "missing key"
                    report["masked_rows"].append({"location": cell, "why": why})
                elif spec.where and not _truthy(row.get(spec.where)):
                    mask = 0.0
                    report["filtered"] += 1
                    report["masked_rows"].append({"location": cell, "why": "filtered",
                                                  "reason": f"where: {spec.where}"})
            labels[spec.name].append(label)
            masks[spec.name].append(mask)
        locations.append(location)

    if not locations:
        raise DataError(f"{table.source}: no usable rows ({len(skipped)} skipped; first: {skipped[0]['reason'] if skipped else 'none'})")
    return EncodedSplit(
        name=name,
        features=_stack_features(features, inputs),
        labels={t: _stack_labels(v, tasks[t]) for t, v in labels.items()},
        masks={t: np.asarray(v, np.float32) for t, v in masks.items()},
        locations=locations,
        issues={"rows": len(locations), "skipped_rows": skipped, "labels": masked,
                "unseen_labels": {t: dict(c) for t, c in unseen.labels.items()}},
        unseen=unseen,
    )


def _label_value(row: dict, spec, task: Task, table: Table, location: str, on_missing: str) -> Any:
    """The row's raw label for ``spec``, checked for its JSON type; a missing key raises unless allowed."""
    if spec.label_column not in row:
        if on_missing == "mask":
            return None
        raise DataError(
            f"{location}: task {spec.name!r}: the row has no {spec.label_column!r} key; write "
            f'"{spec.label_column}": null to mark the row unlabelled for this task, or set '
            "data.on_missing_label: mask to read a missing key as unlabelled"
        )
    value = row[spec.label_column]
    problem = label_type_problem(value, task.type_name, table.typed)
    if problem:
        raise LabelError(f"{location}: task {spec.name!r} (column {spec.label_column!r}, {task.type_name}): {problem}")
    return value


def _encode_inputs(row: dict, inputs, location: str) -> tuple[dict[str, Any], list[str] | None]:
    out: dict[str, Any] = {}
    tokens = None
    if inputs.text:
        column = inputs.text.column
        text = row.get(column)
        if text is None:  # "" and "   " are texts without tokens: the model answers them too
            raise DataError(f"{location}: column {column!r} is missing; every example needs its text "
                            '(write "" for an empty message)')
        if not isinstance(text, str):
            raise DataError(f"{location}: column {column!r} must be text, got {text!r}")
        out[column] = text
        tokens = tokenize(text, inputs.text.tokenizer, inputs.text.lowercase)
    if inputs.dense:
        out[inputs.dense.column] = _vector(row.get(inputs.dense.column), inputs.dense, location)
    for column in inputs.numeric:
        out[column] = _number(row.get(column), column, location)
    for column in inputs.categorical:
        value = row.get(column)
        out[column] = "" if value is None else str(value)
    return out, tokens


_TRUE = {"1", "1.0", "true", "yes", "y", "t"}


def _truthy(value: Any) -> bool:
    """``where:`` columns: 1/true/yes (any case) count as true; anything else, or missing, as false."""
    if isinstance(value, bool):
        return value
    return value is not None and str(value).strip().lower() in _TRUE


def _number(value: Any, column: str, location: str) -> float:
    try:
        number = float(value) if value is not None and not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        raise DataError(f"{location}: column {column!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        what = "missing" if value is None or value == "" else f"{value!r}, not a finite number"
        raise DataError(
            f"{location}: column {column!r} is {what}; numeric inputs need a value in every row "
            "(impute it, or set data.on_bad_row: skip)"
        )
    return number


def _vector(value: Any, dense, location: str) -> np.ndarray:
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)):
        raise DataError(f"{location}: column {dense.column!r} must be a list of {dense.dim} numbers, got {value!r:.60}")
    if len(value) != dense.dim:
        raise DataError(
            f"{location}: column {dense.column!r} has {len(value)} numbers, expected inputs.dense.dim = {dense.dim}"
        )
    vector = np.array([_number(v, dense.column, location) for v in value], np.float32)
    return vector


def _align(label: np.ndarray, tokens: list[str], task: str, location: str, text) -> np.ndarray:
    """The tag ids of one sentence, whole (the caller cuts them to ``max_length`` and keeps the
    full gold for evaluation)."""
    if len(label) != len(tokens):
        raise LabelError(
            f"{location}: task {task!r}: {len(label)} tags for {len(tokens)} tokens "
            f"({text.tokenizer} tokenizer: {' '.join(tokens[:12])}{' ...' if len(tokens) > 12 else ''}); "
            "give one tag per token"
        )
    return label


def _stack_features(features: dict[str, list], inputs) -> dict[str, np.ndarray]:
    out = {}
    for column, values in features.items():
        if inputs.dense and column == inputs.dense.column:
            out[column] = np.stack(values).astype(np.float32)
        elif column in inputs.numeric:
            out[column] = np.asarray(values, np.float32)
        else:
            out[column] = np.asarray(values, dtype=object)
    return out


def _stack_labels(values: list, task: Task):
    if task.level == "token":
        return values
    return np.asarray(values, dtype=np.dtype(task.label_dtype))
