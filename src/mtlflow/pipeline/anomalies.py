"""Anomalies: how a split departs from the schema and from the training split.

:func:`validate_table` checks one split row by row against the :class:`Schema` (the
columns exist, values parse, labels are in the inventory, numbers lie in the training
range, sequences fit) and, given the training split's statistics, compares the two
distributions (train/serving skew: the L∞ distance ``max_v |p_train(v) - p_split(v)|``
of value frequencies, as TFX Data Validation's skew comparator; Breck et al., "Data
Validation for Machine Learning", SysML 2019). Every finding is an :class:`Anomaly`
whose message says what is wrong, where (split, column, the ``file:line`` of a first
offending row) and how to fix it. ``error`` anomalies stop ``mtlflow pipeline`` under
``pipeline.validation.on_anomaly: fail``; ``warning`` anomalies never do.

Checks that only make sense on the training data (a constant column, a task without
any label) run when ``split == "train"``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mtlflow.data.table import Table
from mtlflow.pipeline.schema import ColumnSchema, Schema
from mtlflow.pipeline.statistics import (
    ColumnRole,
    column_roles,
    compute_statistics,
    frequencies,
    token_counts,
    value_parser,
)

if TYPE_CHECKING:
    from mtlflow.config import Config

ANOMALY_KINDS = {
    "empty_split": "the split has no rows",
    "schema_mismatch": "the config uses a column the schema lacks, or gives it another kind",
    "missing_column": "a column the config or schema needs is not in the file",
    "all_missing": "a column is present but empty in every row",
    "missing_value": "a required input (text, dense, numeric) is missing in some rows",
    "missing_rate_jump": "a column is missing more often than the schema allows",
    "type_change": "values of the wrong type (text in a number column, a vector of the wrong dim, ...)",
    "new_label": "a label outside the task's inventory",
    "new_tag": "a tag outside the tagging task's inventory",
    "new_category_rate": "too many categorical values never seen in training",
    "out_of_range": "numbers outside the training range by more than the margin",
    "sequence_length": "tag count differs from token count, or texts longer than the token limit",
    "label_distribution_skew": "label frequencies differ from training by more than max_skew",
    "category_skew": "categorical value frequencies differ from training by more than max_skew",
    "label_missing_everywhere": "a task has no label in the training split",
    "constant_column": "a training column holds one value only",
}

_SHOWN = 5  # values named in one message


@dataclass
class Anomaly:
    """One finding of data validation.

    Attributes:
      kind: one of :data:`ANOMALY_KINDS`.
      split: the split it was found in (``train``, ``validation``, ``test``, ...).
      column: the column concerned (None for the whole split).
      message: what, where and how to fix it, on one line.
      severity: ``error`` (stops the pipeline under ``on_anomaly: fail``) or ``warning``.
      count: rows (or values) concerned, when countable.
      location: ``file:line`` of a first offending row, when there is one.
    """

    kind: str
    split: str
    column: str | None
    message: str
    severity: str
    count: int | None = None
    location: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


class _Tally:
    """Occurrences of one finding: how many, in how many rows, and the first of them."""

    def __init__(self):
        self.count = 0
        self.rows = 0
        self.location: str | None = None
        self.detail = None
        self._last = -1  # index of the last row counted

    def add(self, index: int, location: str, detail=None) -> None:
        if self.count == 0:
            self.location, self.detail = location, detail
        self.count += 1
        if index != self._last:
            self.rows += 1
        self._last = index


def _rows(n: int, noun: str = "row") -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _verb(n: int, singular: str, plural: str) -> str:
    return singular if n == 1 else plural


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "0%"


def _number(x: float) -> str:
    return f"{x:g}"


def validate_table(
    table: Table,
    schema: Schema,
    config: Config,
    split: str,
    statistics: dict | None = None,
    train_statistics: dict | None = None,
) -> list[Anomaly]:
    """Every anomaly of one split (an empty list when it is clean).

    Args:
      table: the split's rows, as :func:`mtlflow.run.read_config_table` reads them.
      schema: the schema to check against (inferred from training, or loaded).
      config: the run's config (column roles, ``data.on_bad_row`` / ``on_bad_label``,
        ``pipeline.validation`` thresholds).
      split: the split's name; ``"train"`` also runs the training-only checks.
      statistics: ``compute_statistics(table, config)`` if already computed.
      train_statistics: the training split's statistics; when given, label and category
        frequencies are compared with them (skew).
    """
    if not table.rows:
        return [Anomaly("empty_split", split, None,
                        f"{split}: {table.source} has no rows; every split needs examples: check the file "
                        "(and data.max_rows), or remove the split from the config's data section", "error", 0)]
    statistics = statistics if statistics is not None else compute_statistics(table, config)
    roles = column_roles(config)
    names = list(roles) + [name for name in schema.columns if name not in roles]
    present = set(table.columns)
    tokens = token_counts(table, config) if any(r.kind == "tags" for r in roles.values()) else None
    anomalies: list[Anomaly] = []
    for name in names:
        role, column = roles.get(name), schema.columns.get(name)
        problem = _schema_problem(name, role, column, schema, split)
        if problem:
            anomalies.append(problem)
            continue
        if role is None:
            role = ColumnRole(column.kind, tuple(column.keys), None, column.required)
        if name not in present:
            shown = ", ".join(table.columns[:20]) + (", ..." if len(table.columns) > 20 else "")
            anomalies.append(Anomaly(
                "missing_column", split, name,
                f"{split}: column {name!r} ({', '.join(role.keys) or 'schema'}) is not in {table.source} "
                f"(columns: {shown or 'none'}); add the column to the file, or point "
                f"{role.keys[0] if role.keys else 'the schema'} at the right column", "error"))
            continue
        stats = statistics["columns"].get(name) if name in roles else None
        anomalies += _ColumnCheck(name, role, column, table, config, split, tokens).run(stats)
    if train_statistics is not None:
        anomalies += _skew(roles, statistics, train_statistics, config, split)
    return anomalies


def _schema_problem(name: str, role: ColumnRole | None, column: ColumnSchema | None, schema: Schema,
                    split: str) -> Anomaly | None:
    origin = f"the schema inferred from {schema.source}" if schema.source else "the schema"
    fix = ("infer the schema again (remove pipeline.validation.schema_file, or point it at a new schema), "
           "or edit the schema file")
    if column is None:
        return Anomaly("schema_mismatch", split, name,
                       f"{split}: column {name!r} ({', '.join(role.keys)}) is used by the config but not "
                       f"described by {origin}; {fix}", "error")
    if role is not None and role.kind != column.kind:
        return Anomaly("schema_mismatch", split, name,
                       f"{split}: column {name!r} is a {role.kind} column in the config ({', '.join(role.keys)}) "
                       f"but a {column.kind} column in {origin}; {fix}", "error")
    return None


class _ColumnCheck:
    """The row-by-row checks of one column of one split."""

    def __init__(self, name: str, role: ColumnRole, column: ColumnSchema, table: Table, config: Config,
                 split: str, tokens: list[int | None] | None):
        self.name, self.role, self.column, self.table = name, role, column, table
        self.config, self.split, self.tokens = config, split, tokens
        self.task = role.task.name if role.task is not None else column.task
        self.label_severity = "warning" if config.data.on_bad_label == "mask" else "error"
        self.row_severity = "warning" if config.data.on_bad_row == "skip" else "error"

    @property
    def where(self) -> str:
        """The column (and its task) as messages name it."""
        task = f" (task {self.task!r})" if self.task else ""
        return f"{self.split}: column {self.name!r}{task}"

    def anomaly(self, kind: str, message: str, severity: str, tally: _Tally | None = None,
                count: int | None = None) -> Anomaly:
        return Anomaly(kind, self.split, self.name, f"{self.where}: {message}", severity,
                       count if count is not None else (tally.count if tally else None),
                       tally.location if tally else None)

    def run(self, stats: dict | None) -> list[Anomaly]:
        kind, column = self.role.kind, self.column
        parse = value_parser(kind, self.config, self.role.task)
        allowed = set(column.values) if column.values is not None else None
        low = high = None
        if column.min is not None and column.max is not None:
            span = column.max - column.min
            margin = self.config.pipeline.validation.range_margin * (span if span > 0 else max(abs(column.max), 1.0))
            low, high = column.min - margin, column.max + margin
        missing, invalid, out_of_range, long, misaligned = _Tally(), _Tally(), _Tally(), _Tally(), _Tally()
        new: dict[str, _Tally] = {}
        new_rows = _Tally()  # rows holding at least one unseen value
        valid = 0
        for i, (row, location) in enumerate(zip(self.table.rows, self.table.locations)):
            parsed = parse(row.get(self.name))
            if parsed.state == "missing":
                missing.add(i, location)
                continue
            if parsed.state == "invalid":
                invalid.add(i, location, parsed.reason)
                continue
            value = parsed.value
            if kind == "vector" and column.dim is not None and len(value) != column.dim:
                invalid.add(i, location, f"got {_rows(len(value), 'number')}")
                continue
            valid += 1
            if kind == "number" and low is not None and not low <= value <= high:
                out_of_range.add(i, location, value)
            elif kind == "text" and column.max_tokens is not None and len(value) > column.max_tokens:
                long.add(i, location, len(value))
            elif kind in ("label", "category") and allowed is not None and value not in allowed:
                new.setdefault(value, _Tally()).add(i, location)
                new_rows.add(i, location)
            elif kind in ("labels", "tags") and allowed is not None:
                for item in (value if kind == "tags" else dict.fromkeys(value)):
                    if item not in allowed:
                        new.setdefault(item, _Tally()).add(i, location)
                        new_rows.add(i, location)
            if kind == "tags" and self.tokens is not None and self.tokens[i] is not None \
                    and len(value) != self.tokens[i]:
                misaligned.add(i, location, (len(value), self.tokens[i]))

        n = len(self.table.rows)
        if missing.count == n:
            return [self._all_missing(n)]
        out: list[Anomaly] = []
        if missing.count and self.role.required:
            out.append(self._missing_value(missing))
        elif missing.count / n > column.max_missing_rate + 1e-9:
            out.append(self.anomaly(
                "missing_rate_jump",
                f"{_share(missing.count, n)} of rows lack a value ({missing.count} of {n}, first at "
                f"{missing.location}), more than the {column.max_missing_rate:.1%} the schema allows "
                "(the training rate plus pipeline.validation.max_missing_rate_increase); fix the data source, "
                "or raise max_missing_rate_increase (or the column's max_missing_rate in the schema file)",
                "error", missing))
        if invalid.count:
            out.append(self._type_change(invalid))
        if new:
            finding = self._new_values(new, new_rows, valid)
            if finding is not None:
                out.append(finding)
        if out_of_range.count:
            out.append(self.anomaly(
                "out_of_range",
                f"{_rows(out_of_range.count, 'value')} {_verb(out_of_range.count, 'lies', 'lie')} "
                "outside the training range "
                f"[{_number(column.min)}, {_number(column.max)}] by more than the margin "
                f"(pipeline.validation.range_margin = {self.config.pipeline.validation.range_margin:g} of the range; "
                f"first: {_number(out_of_range.detail)} at {out_of_range.location}); check the data source "
                "(units, scaling, a broken join), or retrain on data that covers these values",
                "warning", out_of_range))
        if long.count:
            out.append(self.anomaly(
                "sequence_length",
                f"{_rows(long.count)} ({_share(long.count, n)}) {_verb(long.count, 'has', 'have')} "
                f"more than {column.max_tokens} tokens "
                f"(first at {long.location}: {long.detail} tokens); the tokens past inputs.text.max_length "
                "are cut: raise inputs.text.max_length if the end of a text matters", "warning", long))
        if misaligned.count:
            tags, tokens = misaligned.detail
            tokenizer = self.config.inputs.text.tokenizer if self.config.inputs.text else "whitespace"
            fix = ("these labels are masked (data.on_bad_label: mask); give one tag per token"
                   if self.label_severity == "warning" else
                   "give one tag per token, or set data.on_bad_label: mask to drop those labels")
            out.append(self.anomaly(
                "sequence_length",
                f"{_rows(misaligned.count)} {_verb(misaligned.count, 'has', 'have')} a tag count different "
                "from the token count (first at "
                f"{misaligned.location}: {tags} tags for {tokens} tokens with the {tokenizer} tokenizer); {fix}",
                self.label_severity, misaligned))
        if self.split == "train" and stats is not None:
            out += self._constant(stats)
        return out

    def _all_missing(self, n: int) -> Anomaly:
        keys = ", ".join(self.role.keys)
        if self.task or self.role.kind == "flag":  # a label, or a where: column filtering some task
            subject = f"task {self.task!r}" if self.task else f"the task filtered by it ({keys})"
            if self.split == "train":
                return self.anomaly(
                    "label_missing_everywhere",
                    f"none of the {_rows(n)} of {self.table.source} has a value, so {subject} cannot learn; "
                    f"fill in the column, point {self.role.keys[0] if self.role.keys else 'the task'} at the "
                    "column holding the labels, or remove the task", "error", count=n)
            return self.anomaly(
                "all_missing",
                f"every one of the {_rows(n)} lacks a value, so {subject} cannot be evaluated on the "
                f"{self.split} split; add the labels to {self.table.source} if this split should measure it",
                "warning", count=n)
        return self.anomaly(
            "all_missing",
            f"every one of the {_rows(n)} of {self.table.source} lacks a value, so the input carries nothing; "
            f"fill in the column, or remove it from the config ({keys})", "error", count=n)

    def _missing_value(self, missing: _Tally) -> Anomaly:
        need = {"text": "every example needs its text",
                "vector": "dense inputs need a vector in every row",
                "number": "numeric inputs need a value in every row"}[self.role.kind]
        if self.row_severity == "warning":
            fix = "those rows are skipped (data.on_bad_row: skip); fill them in to keep them"
        else:
            fix = "fill them in (impute), or set data.on_bad_row: skip to drop those rows"
        return self.anomaly(
            "missing_value",
            f"{_rows(missing.count)} {_verb(missing.count, 'lacks', 'lack')} a value "
            f"(first at {missing.location}); {need}: {fix}",
            self.row_severity, missing)

    def _type_change(self, invalid: _Tally) -> Anomaly:
        kind = self.role.kind
        expected = {
            "text": "text",
            "vector": f"a list of {self.column.dim} numbers" if self.column.dim else "a list of numbers",
            "number": "a finite number",
            "category": "a single value (not a list or object)",
            "label": "a single label (not a list or object)",
            "labels": "a list of labels or a separator-joined string of them",
            "tags": "a list of tags or a string of tags",
            "flag": "a binary label (0/1, true/false, yes/no)",
        }[kind]
        if self.task:
            severity = self.label_severity
            fix = ("these labels are masked (data.on_bad_label: mask); fix the values to use them"
                   if severity == "warning" else "fix the values, or set data.on_bad_label: mask to drop those labels")
            if kind == "flag":
                fix += f", or set tasks.{self.task}.positive to the value that means yes"
        elif kind == "category":
            severity, fix = "error", "fix the values: a categorical input holds one value per row"
        else:
            severity = self.row_severity
            fix = ("those rows are skipped (data.on_bad_row: skip); fix the values to keep them"
                   if severity == "warning" else "fix the values, or set data.on_bad_row: skip to drop those rows")
        return self.anomaly(
            "type_change",
            f"{_rows(invalid.count)} {_verb(invalid.count, 'does', 'do')} not hold {expected} "
            f"(first at {invalid.location}: {invalid.detail}); {fix}",
            severity, invalid)

    def _new_values(self, new: dict[str, _Tally], rows: _Tally, valid: int) -> Anomaly | None:
        ranked = sorted(new.items(), key=lambda item: (-item[1].count, item[0]))
        more = f" and {len(ranked) - _SHOWN} more" if len(ranked) > _SHOWN else ""
        if self.role.kind == "category":
            limit = self.config.pipeline.validation.max_new_category_rate
            if rows.count / max(valid, 1) <= limit:
                return None
            shown = ", ".join(repr(v) for v, _ in ranked[:_SHOWN]) + more
            return self.anomaly(
                "new_category_rate",
                f"{_share(rows.count, valid)} of values ({rows.count} of {valid}) were never seen in training "
                f"({shown}; first at {rows.location}), more than pipeline.validation.max_new_category_rate = "
                f"{limit:.1%}; unseen values all share one 'unknown' embedding: retrain on data that covers "
                "them, or raise max_new_category_rate", "error", rows)
        tags = self.role.kind == "tags"
        noun, unit = ("tag", "token") if tags else ("label", "row")
        index = next((k.split(".")[0] for k in self.role.keys if k.startswith("tasks[")), "the task")
        fixed = bool(getattr(self.role.task, "labels", None))
        known = f"not in {index}.labels" if fixed else "never seen in training"
        if self.label_severity == "warning":
            fix = (f"these labels are masked (data.on_bad_label: mask); add the {noun}s to the training "
                   "data to learn them")
        else:
            fix = (f"add {'it' if len(ranked) == 1 else 'them'} to the training data"
                   f"{f' (or {index}.labels)' if fixed else ''} or set data.on_bad_label: mask")
        if len(ranked) == 1:
            value, tally = ranked[0]
            if tags:
                head = (f"{_rows(tally.count, unit)} in {_rows(tally.rows)} "
                        f"{_verb(tally.count, 'carries', 'carry')} tag {value!r} {known}")
            else:
                head = f"{_rows(tally.count)} {'has' if tally.count == 1 else 'have'} label {value!r} {known}"
            message = f"{head} (first at {tally.location}); {fix}"
        else:
            parts = ", ".join(f"{v!r} ({_rows(t.count, unit)}, first at {t.location})" for v, t in ranked[:_SHOWN])
            message = f"{_rows(rows.rows)} {_verb(rows.rows, 'has', 'have')} {noun}s {known}: {parts}{more}; {fix}"
        kind = "new_tag" if tags else "new_label"
        return self.anomaly(kind, message, self.label_severity, rows, count=rows.count)

    def _constant(self, stats: dict) -> list[Anomaly]:
        kind = self.role.kind
        valid = stats["count"] - stats.get("invalid", 0)
        if valid < 2:
            return []
        if kind == "number" and stats.get("std") == 0:
            value = _number(stats["min"])
        elif kind in ("category", "label", "flag") and stats.get("distinct") == 1:
            value = repr(next(iter(stats["values"])))
            if kind == "flag":
                value = {"'1'": "yes (1)", "'0'": "no (0)"}.get(value, value)
        else:
            return []
        if self.task:
            message = (f"every labelled training row has the label {value}, so task {self.task!r} learns a "
                       "constant; check the training data (a filter or join may have dropped the other classes)")
        else:
            message = (f"every training row holds the same value {value}, so the input carries no signal; "
                       f"drop it from the config ({', '.join(self.role.keys)}) or fix the data source")
        return [self.anomaly("constant_column", message, "warning", count=valid)]


def _skew(roles: dict[str, ColumnRole], statistics: dict, train_statistics: dict, config: Config,
          split: str) -> list[Anomaly]:
    """L∞ distance of value frequencies between the training split and this one."""
    limit = config.pipeline.validation.max_skew
    out: list[Anomaly] = []
    for name, role in roles.items():
        if role.kind not in ("category", "label", "labels", "tags", "flag"):
            continue
        if role.kind == "flag" and role.task is None:
            continue
        here = statistics["columns"].get(name)
        there = (train_statistics.get("columns") or {}).get(name)
        if not here or not there:
            continue
        p, q = frequencies(there), frequencies(here)
        if not p or not q:
            continue
        distances = {v: abs(p.get(v, 0.0) - q.get(v, 0.0)) for v in set(p) | set(q)}
        value, distance = max(distances.items(), key=lambda item: (item[1], item[0]))
        if distance <= limit + 1e-9:
            continue
        shown = {"1": "yes (1)", "0": "no (0)"}.get(value, repr(value)) if role.kind == "flag" else repr(value)
        task = f" (task {role.task.name!r})" if role.task is not None else ""
        kind = "category_skew" if role.kind == "category" else "label_distribution_skew"
        what = "value" if role.kind == "category" else ("tag" if role.kind == "tags" else "label")
        out.append(Anomaly(
            kind, split, name,
            f"{split}: column {name!r}{task}: {what} frequencies differ from training by L∞ = {distance:.3f}, "
            f"more than pipeline.validation.max_skew = {limit:g} (largest for {shown}: {q.get(value, 0.0):.1%} "
            f"here vs {p.get(value, 0.0):.1%} in training); check how this split was sampled or produced "
            "(train/serving skew), or raise max_skew if the shift is expected", "error", here.get("count")))
    return out


def format_anomalies(anomalies: list[Anomaly]) -> str:
    """A human report: one line per anomaly, errors first, e.g.
    ``ERROR   new_label: validation: column 'mood' (task 'sentiment'): 2 rows have ...``."""
    if not anomalies:
        return "no anomalies"
    ordered = sorted(anomalies, key=lambda a: a.severity != "error")
    return "\n".join(f"{a.severity.upper():<7} {a.kind}: {a.message}" for a in ordered)
