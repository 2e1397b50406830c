"""Read CSV / TSV files with a header row into a :class:`Table` of strings."""

from __future__ import annotations

import csv
from pathlib import Path

from mtlflow.data.table import Table, check_on_bad_row, iter_lines
from mtlflow.errors import DataError

_TAB_SUFFIXES = (".tsv", ".tab")
_QUOTING_HINT = (
    "quote fields that contain the delimiter, a quote or a newline, "
    'and double quotes inside quoted fields ("")'
)


def read_csv(
    path: str | Path, *, delimiter: str | None = None, on_bad_row: str = "error", quotes: bool = True
) -> Table:
    """Read a delimited text file whose first non-blank row names the columns.

    ``delimiter`` defaults to a tab for ``.tsv`` / ``.tab`` files and a comma
    otherwise. Empty cells become ``None``; other values stay strings. Each row's
    location is the physical line it starts on, even after quoted newlines.
    ``quotes=False`` reads ``"`` as an ordinary character (plain TSV, where a text
    may start with a quote and fields never hold the delimiter or a newline).
    """
    check_on_bad_row(on_bad_row)
    source = str(path)
    if delimiter is None:
        delimiter = "\t" if Path(path).suffix.lower() in _TAB_SUFFIXES else ","
    if len(delimiter) != 1:
        raise DataError(
            f"{source}: the delimiter must be one character, got {delimiter!r}; fix data.delimiter"
        )
    table = Table(source)
    reader = csv.reader(iter_lines(path), delimiter=delimiter, strict=True,
                        quoting=csv.QUOTE_MINIMAL if quotes else csv.QUOTE_NONE)
    start = 1  # physical line on which the record being parsed starts
    try:
        for fields in reader:
            location = f"{source}:{start}"
            start = reader.line_num + 1
            if not fields:
                continue
            if not table.columns:
                table.columns = _check_header(fields, location)
            elif len(fields) != len(table.columns):
                table.reject(location, _field_count_reason(fields, table.columns, delimiter), on_bad_row)
            else:
                table.add({name: value or None for name, value in zip(table.columns, fields)}, location)
    except csv.Error as error:
        hint = "; if the file does not quote fields (plain TSV), set data.quotes: false" if delimiter == "\t" else ""
        raise DataError(f"{source}:{start}: {_csv_error_reason(error)}{hint}") from None
    if not table.columns:
        raise DataError(f"{source}: file is empty; the first line must be a header naming the columns")
    return table.require_rows("file has a header but no data rows; add one row per example below it")


def _check_header(names: list[str], location: str) -> list[str]:
    """Return the header names, raising if one is empty or repeated."""
    first_seen: dict[str, int] = {}
    for index, name in enumerate(names, 1):
        if not name.strip():
            raise DataError(
                f"{location}: column {index} of the header has no name; "
                "give every column a name (or remove the trailing delimiter)"
            )
        if name in first_seen:
            raise DataError(
                f"{location}: duplicate column name {name!r} (columns {first_seen[name]} and {index}); "
                "column names must be unique"
            )
        first_seen[name] = index
    return names


def _field_count_reason(fields: list[str], columns: list[str], delimiter: str) -> str:
    """Explain a row whose field count differs from the header's."""
    return (
        f"expected {len(columns)} fields (as in the header: {', '.join(columns)}) "
        f"but got {len(fields)}; {_QUOTING_HINT} (delimiter {delimiter!r})"
    )


def _csv_error_reason(error: csv.Error) -> str:
    """Turn a ``csv`` parser error into a message for the record's first line."""
    if str(error) == "unexpected end of data":
        return "a quoted field starting on this line is never closed; add the closing quote"
    return f"malformed CSV ({error}); {_QUOTING_HINT}"
