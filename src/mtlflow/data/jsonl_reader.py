"""Read JSON Lines files (one JSON object per line) into a :class:`Table`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mtlflow.data.table import Table, check_on_bad_row, iter_lines

_JSON_TYPES = {list: "an array", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
_SEQUENCE_FIELDS = ("tokens", "tags")


def read_jsonl(path: str | Path, *, on_bad_row: str = "error") -> Table:
    """Read one JSON object per non-blank line; ``null`` values become ``None``.

    Columns are the union of the objects' keys in first-seen order. ``tokens``
    and ``tags``, when present, must be lists of strings of equal length.
    """
    check_on_bad_row(on_bad_row)
    table = Table(str(path), typed=True)
    columns: dict[str, None] = {}
    for number, line in enumerate(iter_lines(path), 1):
        if not line.strip():
            continue
        location = f"{table.source}:{number}"
        row, reason = _parse_row(line)
        if reason:
            table.reject(location, reason, on_bad_row)
            continue
        columns.update(dict.fromkeys(row))
        table.add(row, location)
    table.columns = list(columns)
    return table.require_rows("file is empty; write one JSON object per line")


def _parse_row(line: str) -> tuple[dict[str, Any], str]:
    """Parse one line into an object, or return the reason it is not a valid row."""
    line = line.rstrip("\r\n")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as error:
        return {}, _json_error_reason(error, line)
    if not isinstance(row, dict):
        return {}, (
            f"expected a JSON object {{...}} but got {_JSON_TYPES.get(type(row), 'null')}; "
            "write one object per line (JSON Lines, not a JSON array)"
        )
    return row, _sequence_problem(row)


def _json_error_reason(error: json.JSONDecodeError, line: str) -> str:
    """Say what is wrong with a line that is not JSON, and where (columns count characters from 1)."""
    what = error.msg.removesuffix(" at")  # "Unterminated string starting at" + our " at column N"
    if what.startswith("Unterminated string"):
        return (
            f"invalid JSON: the string starting at column {error.colno} is not closed before the line ends; "
            "is the line cut off, or a quote missing? Each line must hold one complete JSON object"
        )
    if error.pos >= len(line.rstrip()):
        return (
            f"invalid JSON: the line ends (column {len(line) + 1}) before the JSON object is complete "
            f"({what}); is the line cut off? Each line must hold one complete JSON object"
        )
    return f"invalid JSON: {what} at column {error.colno}; each line must hold one complete JSON object"


def _sequence_problem(row: dict[str, Any]) -> str:
    """Return why ``tokens`` / ``tags`` are malformed, or ``""`` if they are fine."""
    for key in _SEQUENCE_FIELDS:
        value = row.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
            return (
                f"field {key!r} must be a list of strings, got {json.dumps(value, ensure_ascii=False)[:80]}; "
                f'write it like "{key}": ["a", "b"]'
            )
    tokens, tags = row.get("tokens"), row.get("tags")
    if tokens is not None and tags is not None and len(tokens) != len(tags):
        return (
            f"'tokens' has {len(tokens)} items but 'tags' has {len(tags)}; "
            f"give exactly one tag per token (tokens: {' '.join(tokens)} | tags: {' '.join(tags)})"
        )
    return ""
