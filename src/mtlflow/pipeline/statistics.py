"""Per-column statistics of one split: the evidence data validation compares.

Every column the config uses gets a *kind* from its role — ``text``, ``vector`` (the
dense input), ``number`` (numeric inputs, regression labels), ``category``
(categorical inputs), ``label`` (multiclass), ``labels`` (multilabel), ``tags``
(tagging) or ``flag`` (binary labels, ``where:`` columns) — and each raw value is
parsed by the rules the encoder applies (:mod:`mtlflow.data.encode`, the task label
codecs), so "invalid" here means "would be rejected at training time".

:func:`compute_statistics` returns a JSON-safe summary per column: ``count`` (rows with
a value), ``missing``, ``missing_rate``, ``invalid`` (values that do not parse), and by
kind: numbers ``min``/``max``/``mean``/``std``; categories, labels and flags the top
1000 ``values`` with their counts and the number of ``distinct`` values; labels
(multilabel) the rows carrying each label; text the token length ``min``/``mean``/
``p95``/``max``, the ``vocabulary_size`` and the rows longer than
``inputs.text.max_length``; vectors the most common ``dim``; tags the count of every tag
over tokens, the tag-sequence ``lengths`` and the rows whose tag count differs from
their token count (``misaligned``).

Nothing here imports TensorFlow: the tokenizer is the pure-Python reference of
:mod:`mtlflow.data.tokenize`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mtlflow.data.table import Table
from mtlflow.data.tokenize import tokenize

if TYPE_CHECKING:
    from mtlflow.config import Config

KINDS = ("text", "vector", "number", "category", "label", "labels", "tags", "flag")
TASK_KINDS = {"multiclass": "label", "multilabel": "labels", "binary": "flag", "regression": "number",
              "tagging": "tags"}
TOP_VALUES = 1000

# The words the binary task (mtlflow.tasks.binary) and ``where:`` columns
# (mtlflow.data.encode) read as yes / no; kept equal to theirs by the tests.
BINARY_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t", "pos", "positive"})
BINARY_FALSE = frozenset({"0", "0.0", "false", "no", "n", "f", "neg", "negative"})
WHERE_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})


@dataclass(frozen=True)
class ColumnRole:
    """What the config does with one column.

    Attributes:
      kind: one of :data:`KINDS`.
      keys: the config key paths that name the column, e.g. ``("inputs.numeric[0]",)``.
      task: the task spec whose label the column holds (None for inputs and ``where:``).
      required: every row needs a value (text, dense and numeric inputs).
    """

    kind: str
    keys: tuple[str, ...]
    task: Any = None
    required: bool = False


class Value(NamedTuple):
    """One parsed cell: ``state`` is ``ok`` (``value`` holds the parsed value),
    ``missing`` or ``invalid`` (``reason`` says what the cell holds instead)."""

    state: str
    value: Any = None
    reason: str = ""


MISSING = Value("missing")


def column_roles(config: Config) -> dict[str, ColumnRole]:
    """The columns the config uses, in config order: inputs, task labels, ``where:`` columns.

    A column named twice (a binary label that is also another task's ``where:``) keeps
    the kind of its first role and lists every key.
    """
    roles: dict[str, ColumnRole] = {}

    def add(column: str, kind: str, key: str, task: Any = None, required: bool = False) -> None:
        if column in roles:
            roles[column] = replace(roles[column], keys=roles[column].keys + (key,))
        else:
            roles[column] = ColumnRole(kind, (key,), task, required)

    inputs = config.inputs
    if inputs.text:
        add(inputs.text.column, "text", "inputs.text.column", required=True)
    if inputs.dense:
        add(inputs.dense.column, "vector", "inputs.dense.column", required=True)
    for i, column in enumerate(inputs.numeric):
        add(column, "number", f"inputs.numeric[{i}]", required=True)
    for i, column in enumerate(inputs.categorical):
        add(column, "category", f"inputs.categorical[{i}]")
    for i, task in enumerate(config.tasks):
        add(task.label_column, TASK_KINDS[task.type], f"tasks[{i}].column", task=task)
    for i, task in enumerate(config.tasks):
        if task.where:
            add(task.where, "flag", f"tasks[{i}].where")
    return roles


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return f"a list {value!r:.50}"
    if isinstance(value, dict):
        return f"an object {value!r:.50}"
    return f"{value!r:.60}"


def _number(value: Any) -> Value:
    if value is None or (isinstance(value, str) and not value.strip()):
        return MISSING
    if isinstance(value, bool) or isinstance(value, (list, tuple, dict)):
        return Value("invalid", reason=f"got {_describe(value)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        return Value("invalid", reason=f"got {_describe(value)}")
    if not math.isfinite(number):
        return Value("invalid", reason=f"got {value!r}, not a finite number")
    return Value("ok", number)


def _vector(value: Any) -> Value:
    if value is None:
        return MISSING
    if isinstance(value, str):
        if not value.strip():
            return MISSING
        value = value.replace(",", " ").split()
    if not isinstance(value, (list, tuple)):
        return Value("invalid", reason=f"got {_describe(value)}")
    numbers = []
    for item in value:
        parsed = _number(item)
        if parsed.state != "ok":
            return Value("invalid", reason=f"element {item!r:.30} is not a finite number")
        numbers.append(parsed.value)
    return Value("ok", numbers)


def _single(value: Any) -> Value:
    """A multiclass label: one scalar, compared as text."""
    if value is None:
        return MISSING
    if isinstance(value, (list, tuple, dict)):
        return Value("invalid", reason=f"got {_describe(value)}")
    return Value("ok", value if isinstance(value, str) else str(value))


def value_parser(kind: str, config: Config, task: Any = None) -> Callable[[Any], Value]:
    """The function that parses one raw cell of a column of ``kind`` (see :class:`Value`).

    ``task`` is the spec of the task whose label the column holds (its ``separator``,
    ``positive``); without it a ``flag`` is read like a ``where:`` column.
    """
    if kind == "number":
        return _number
    if kind == "vector":
        return _vector
    if kind == "label":
        return _single
    if kind == "category":  # the encoder reads a missing category as ""
        return lambda value: MISSING if value is None or value == "" else _single(value)
    if kind == "text":
        text_config = config.inputs.text
        tokenizer = text_config.tokenizer if text_config else "whitespace"
        lowercase = text_config.lowercase if text_config else False

        def text(value: Any) -> Value:
            if value is None:  # an empty or blank text is a text (no tokens), as the model takes it
                return MISSING
            if not isinstance(value, str):
                return Value("invalid", reason=f"got {_describe(value)}")
            return Value("ok", tokenize(value, tokenizer, lowercase))

        return text
    if kind == "labels":
        separator = getattr(task, "separator", None) or "|"

        def labels(value: Any) -> Value:
            if value is None:
                return MISSING
            if isinstance(value, str):
                return Value("ok", [v.strip() for v in value.split(separator) if v.strip()])
            if isinstance(value, (list, tuple)) and all(not isinstance(v, (list, tuple, dict)) for v in value):
                return Value("ok", [v if isinstance(v, str) else str(v) for v in value])
            return Value("invalid", reason=f"got {_describe(value)}")

        return labels
    if kind == "tags":
        separator = getattr(task, "separator", None)

        def tags(value: Any) -> Value:
            if value is None:
                return MISSING
            if isinstance(value, str):
                return Value("ok", value.split(separator))
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return Value("ok", list(value))
            return Value("invalid", reason=f"got {_describe(value)}")

        return tags
    if kind == "flag":
        if task is None or getattr(task, "type", None) != "binary":

            def where(value: Any) -> Value:
                if value is None:
                    return MISSING
                if isinstance(value, bool):
                    return Value("ok", "1" if value else "0")
                return Value("ok", "1" if str(value).strip().lower() in WHERE_TRUE else "0")

            return where
        positive = task.positive.lower() if task.positive is not None else None

        def flag(value: Any) -> Value:
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return MISSING
            if isinstance(value, (list, tuple, dict)):
                return Value("invalid", reason=f"got {_describe(value)}")
            key = str(value).strip().lower()
            if positive is not None:
                return Value("ok", "1" if key == positive else "0")
            if isinstance(value, bool) or key in BINARY_TRUE | BINARY_FALSE:
                return Value("ok", "1" if value is True or key in BINARY_TRUE else "0")
            return Value("invalid", reason=f"got {_describe(value)}")

        return flag
    raise ValueError(f"unknown column kind {kind!r}; allowed: {', '.join(KINDS)}")


def token_counts(table: Table, config: Config) -> list[int | None]:
    """Tokens per row of the text input (None where the text is missing or invalid)."""
    if config.inputs.text is None:
        return [None] * len(table.rows)
    parse = value_parser("text", config)
    column = config.inputs.text.column
    counts: list[int | None] = []
    for row in table.rows:
        parsed = parse(row.get(column))
        counts.append(len(parsed.value) if parsed.state == "ok" else None)
    return counts


def length_summary(lengths: list[int]) -> dict:
    """``min``, ``mean``, ``p95`` (nearest rank) and ``max`` of a list of lengths."""
    if not lengths:
        return {"min": None, "mean": None, "p95": None, "max": None}
    ordered = sorted(lengths)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"min": ordered[0], "mean": sum(ordered) / len(ordered), "p95": p95, "max": ordered[-1]}


def _top(counter: Counter) -> dict[str, int]:
    return {str(k): int(c) for k, c in sorted(counter.items(), key=lambda kc: (-kc[1], str(kc[0])))[:TOP_VALUES]}


def compute_statistics(table: Table, config: Config) -> dict:
    """Statistics of every column the config uses, as plain JSON-ready values.

    Returns:
      ``{"source": table.source, "rows": n, "columns": {column: {...}}}``; each column
      has ``kind``, ``present`` (the file has the column), ``count``, ``missing``,
      ``missing_rate``, ``invalid`` and the kind's summary (see the module docstring).
    """
    rows = table.rows
    n = len(rows)
    present = set(table.columns)
    tokens_per_row = token_counts(table, config) if any(
        r.kind == "tags" for r in column_roles(config).values()) else None
    columns: dict[str, dict] = {}
    for column, role in column_roles(config).items():
        parse = value_parser(role.kind, config, role.task)
        parsed = [parse(row.get(column)) for row in rows]
        good = [p.value for p in parsed if p.state == "ok"]
        missing = sum(p.state == "missing" for p in parsed)
        entry: dict[str, Any] = {
            "kind": role.kind,
            "present": column in present,
            "count": n - missing,
            "missing": missing,
            "missing_rate": missing / n if n else 0.0,
            "invalid": sum(p.state == "invalid" for p in parsed),
        }
        if role.kind == "number":
            entry.update(_number_summary(good))
        elif role.kind in ("category", "label", "flag"):
            counts = Counter(good)
            entry.update(values=_top(counts), distinct=len(counts))
        elif role.kind == "labels":
            counts = Counter(label for labels in good for label in set(labels))
            entry.update(values=_top(counts), distinct=len(counts),
                         labels_per_row=sum(map(len, good)) / len(good) if good else None)
        elif role.kind == "text":
            lengths = [len(tokens) for tokens in good]
            limit = config.inputs.text.max_length if config.inputs.text else None
            entry.update(tokens=length_summary(lengths),
                         vocabulary_size=len({t for tokens in good for t in tokens}),
                         over_max_length=sum(length > limit for length in lengths) if limit else 0)
        elif role.kind == "vector":
            dims = Counter(len(v) for v in good)
            entry.update(dim=dims.most_common(1)[0][0] if dims else None,
                         dims={str(d): c for d, c in sorted(dims.items())})
        elif role.kind == "tags":
            counts = Counter(tag for tags in good for tag in tags)
            misaligned = sum(
                1 for p, tokens in zip(parsed, tokens_per_row)
                if p.state == "ok" and tokens is not None and len(p.value) != tokens)
            entry.update(values=_top(counts), distinct=len(counts),
                         lengths=length_summary([len(tags) for tags in good]), misaligned=misaligned)
        columns[column] = entry
    return {"source": table.source, "rows": n, "columns": columns}


def _number_summary(numbers: list[float]) -> dict:
    if not numbers:
        return {"min": None, "max": None, "mean": None, "std": None}
    mean = math.fsum(numbers) / len(numbers)
    variance = math.fsum((x - mean) ** 2 for x in numbers) / len(numbers)
    return {"min": min(numbers), "max": max(numbers), "mean": mean, "std": math.sqrt(variance)}


def frequencies(column_statistics: dict) -> dict[str, float]:
    """A column's value frequencies from its statistics.

    Categories, labels and flags: share of the rows with a valid value; ``labels``
    (multilabel): share of the labelled rows carrying each label; ``tags``: share of
    all tags.
    """
    values = column_statistics.get("values") or {}
    kind = column_statistics.get("kind")
    if kind == "labels":
        total = column_statistics["count"] - column_statistics.get("invalid", 0)
    else:
        total = sum(values.values())
    if not total:
        return {}
    return {value: count / total for value, count in values.items()}
