"""The data schema: what every split must look like, inferred from the training split.

A :class:`Schema` holds one :class:`ColumnSchema` per column the config uses: its kind
(see :mod:`mtlflow.pipeline.statistics`), whether every row needs a value, the label
or category inventory, the training range of numbers, the vector dimension, the token
limit of the text, and the largest missing rate allowed. :func:`infer_schema` derives
it from the training split; ``schema.json`` (:meth:`Schema.save`) makes it a reviewed,
versioned contract that ``pipeline.validation.schema_file`` can pin, so later data is
checked against a fixed baseline instead of whatever the new training file holds (the
schema of TFX Data Validation; Breck et al., "Data Validation for Machine Learning",
SysML 2019).

Example::

    schema = infer_schema(train_table, config)
    schema.save("runs/p/schema.json")
    Schema.load("runs/p/schema.json").columns["sentiment"].values  # ['neg', 'pos']
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mtlflow.data.table import Table
from mtlflow.errors import DataError
from mtlflow.evaluate.report import _write_atomic
from mtlflow.pipeline.statistics import KINDS, column_roles, compute_statistics, value_parser

if TYPE_CHECKING:
    from mtlflow.config import Config

SCHEMA_VERSION = 1
MAX_VALUES = 10_000  # categorical inputs with more distinct values keep no inventory


@dataclass
class ColumnSchema:
    """What one column must hold.

    Attributes:
      name: the column.
      kind: ``text``, ``vector``, ``number``, ``category``, ``label``, ``labels``,
        ``tags`` or ``flag``.
      required: every row needs a value (text, dense and numeric inputs).
      task: the task whose label the column holds, if any.
      keys: the config keys that name the column (``tasks[0].column``, ...).
      values: the allowed labels / tags (the task's inventory), or the categories seen
        in training (None: not checked).
      min, max: the training range of a number column.
      dim: the length of every vector.
      max_tokens: tokens past this are cut (``inputs.text.max_length``).
      max_missing_rate: the largest share of rows that may lack a value.
    """

    name: str
    kind: str
    required: bool = False
    task: str | None = None
    keys: list[str] = field(default_factory=list)
    values: list[str] | None = None
    min: float | None = None
    max: float | None = None
    dim: int | None = None
    max_tokens: int | None = None
    max_missing_rate: float = 1.0

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Any, where: str = "column") -> ColumnSchema:
        """Reads one column; a :class:`DataError` names the bad field (``where.field``)."""
        if not isinstance(d, dict):
            raise DataError(f"{where}: must be an object of column fields, got {type(d).__name__}")
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise DataError(f"{where}.{unknown[0]}: unknown field; allowed: {', '.join(known)}")
        for key in ("name", "kind"):
            if not isinstance(d.get(key), str):
                raise DataError(f"{where}.{key}: required text field is missing or not a string")
        if d["kind"] not in KINDS:
            raise DataError(f"{where}.kind: unknown kind {d['kind']!r}; allowed: {', '.join(KINDS)}")
        checks = {
            "required": (lambda v: isinstance(v, bool), "true or false"),
            "task": (lambda v: v is None or isinstance(v, str), "a task name or null"),
            "keys": (lambda v: isinstance(v, list) and all(isinstance(k, str) for k in v), "a list of strings"),
            "values": (lambda v: v is None or isinstance(v, list) and all(isinstance(k, str) for k in v),
                       "a list of strings or null"),
            "min": (lambda v: v is None or _is_number(v), "a number or null"),
            "max": (lambda v: v is None or _is_number(v), "a number or null"),
            "dim": (lambda v: v is None or isinstance(v, int) and not isinstance(v, bool) and v > 0,
                    "a positive integer or null"),
            "max_tokens": (lambda v: v is None or isinstance(v, int) and not isinstance(v, bool) and v > 0,
                           "a positive integer or null"),
            "max_missing_rate": (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "a number between 0 and 1"),
        }
        for key, (ok, expected) in checks.items():
            if key in d and not ok(d[key]):
                raise DataError(f"{where}.{key}: must be {expected}, got {d[key]!r:.60}")
        return cls(**d)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class Schema:
    """Every column's :class:`ColumnSchema`, and where the schema was inferred from."""

    columns: dict[str, ColumnSchema]
    source: str | None = None
    rows: int | None = None

    def to_json(self) -> dict:
        return {
            "version": SCHEMA_VERSION,
            "source": self.source,
            "rows": self.rows,
            "columns": {name: column.to_json() for name, column in self.columns.items()},
        }

    @classmethod
    def from_json(cls, d: Any, source: str = "schema") -> Schema:
        """Reads :meth:`to_json`'s output; a :class:`DataError` starts with ``source`` and
        names the bad field, e.g. ``schema.json: columns.age.max: must be a number``."""
        if not isinstance(d, dict):
            raise DataError(f"{source}: a schema is a JSON object with 'columns', got {type(d).__name__}")
        unknown = sorted(set(d) - {"version", "source", "rows", "columns"})
        if unknown:
            raise DataError(f"{source}: {unknown[0]}: unknown field; allowed: version, source, rows, columns")
        version = d.get("version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise DataError(f"{source}: schema version {version!r} is not supported (this mtlflow reads "
                            f"version {SCHEMA_VERSION}); infer the schema again")
        columns = d.get("columns")
        if not isinstance(columns, dict):
            raise DataError(f"{source}: columns: required object of column schemas is missing")
        parsed = {}
        for name, column in columns.items():
            try:
                parsed[name] = ColumnSchema.from_json(column, f"columns.{name}")
            except DataError as exc:
                raise DataError(f"{source}: {exc}") from None
            if parsed[name].name != name:
                raise DataError(f"{source}: columns.{name}.name: is {parsed[name].name!r}, "
                                f"but the column is listed under {name!r}; make them equal")
        rows = d.get("rows")
        if rows is not None and not (isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0):
            raise DataError(f"{source}: rows: must be a count or null, got {rows!r:.60}")
        if d.get("source") is not None and not isinstance(d["source"], str):
            raise DataError(f"{source}: source: must be a path or null, got {d['source']!r:.60}")
        return cls(columns=parsed, source=d.get("source"), rows=rows)

    def save(self, path: str | Path) -> Path:
        """Writes ``schema.json`` atomically (a temporary file renamed into place)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Reads a saved schema; a missing, unreadable or corrupt file raises a
        :class:`DataError` naming the file (and line) and how to fix it."""
        path = Path(path)
        fix = "fix it, or remove pipeline.validation.schema_file to infer the schema from the training data"
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise DataError(f"{path}: no such schema file (looked for {path.resolve()}); check "
                            "pipeline.validation.schema_file, or remove it to infer the schema "
                            "from the training data") from None
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: the schema file is not UTF-8 text (byte {exc.start}); {fix}") from None
        except OSError as exc:
            raise DataError(f"{path}: cannot read the schema file: {exc.strerror or exc}") from None
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            what = exc.msg.removesuffix(" at")  # "Unterminated string starting at"
            raise DataError(f"{path}:{exc.lineno}: the schema file is not valid JSON ({what} at column "
                            f"{exc.colno}); {fix}") from None
        return cls.from_json(raw, str(path))


def infer_schema(table: Table, config: Config, statistics: dict | None = None) -> Schema:
    """The schema of the training split ``table``.

    Label inventories are the tasks' fixed ``labels`` when given, else the values seen in
    training (tags: ``O`` plus the tags seen, as :class:`~mtlflow.tasks.TaggingTask`
    learns them). Numbers keep their training range; optional columns may be missing up
    to their training rate plus ``pipeline.validation.max_missing_rate_increase``;
    required columns (text, dense, numeric inputs) never.

    Args:
      table: the training split.
      config: the run's config.
      statistics: ``compute_statistics(table, config)`` if already computed.
    """
    statistics = statistics if statistics is not None else compute_statistics(table, config)
    increase = config.pipeline.validation.max_missing_rate_increase
    columns: dict[str, ColumnSchema] = {}
    for name, role in column_roles(config).items():
        stats = statistics["columns"][name]
        column = ColumnSchema(
            name=name,
            kind=role.kind,
            required=role.required,
            task=role.task.name if role.task is not None else None,
            keys=list(role.keys),
            max_missing_rate=0.0 if role.required else min(1.0, stats["missing_rate"] + increase),
        )
        if role.kind == "number":
            column.min, column.max = stats["min"], stats["max"]
        elif role.kind == "vector":
            column.dim = config.inputs.dense.dim
        elif role.kind == "text":
            column.max_tokens = config.inputs.text.max_length
        elif role.kind in ("label", "labels", "tags", "category"):
            column.values = _inventory(table, config, name, role)
        columns[name] = column
    return Schema(columns=columns, source=table.source, rows=len(table.rows))


def _inventory(table: Table, config: Config, name: str, role) -> list[str] | None:
    fixed = getattr(role.task, "labels", None)
    if fixed:
        return ["O"] + [t for t in fixed if t != "O"] if role.kind == "tags" else list(fixed)
    parse = value_parser(role.kind, config, role.task)
    seen: set[str] = set()
    for row in table.rows:
        parsed = parse(row.get(name))
        if parsed.state == "ok":
            if isinstance(parsed.value, list):
                seen.update(parsed.value)
            else:
                seen.add(parsed.value)
    if role.kind == "tags":
        return ["O"] + sorted(seen - {"O"})
    if role.kind == "category" and len(seen) > MAX_VALUES:
        return None
    return sorted(seen)
