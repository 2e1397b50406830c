"""Pick the reader for a data path from ``data.format`` or from the path itself."""

from __future__ import annotations

from pathlib import Path

from mtlflow.data.conll_reader import read_conll
from mtlflow.data.csv_reader import read_csv
from mtlflow.data.jointbert_reader import read_jointbert
from mtlflow.data.jsonl_reader import read_jsonl
from mtlflow.data.table import Table, check_on_bad_row
from mtlflow.errors import DataError

FORMATS = ("csv", "tsv", "jsonl", "jointbert", "conll")
_FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".ndjson": "jsonl",
    ".conll": "conll",
}


def read_table(
    path: str | Path,
    format: str | None = None,
    *,
    on_bad_row: str = "error",
    delimiter: str | None = None,
    quotes: bool = True,
) -> Table:
    """Read ``path`` as ``format`` (one of :data:`FORMATS`), inferred when ``None``.

    A directory is read as JointBERT; files by extension (``.csv``; ``.tsv`` /
    ``.tab``; ``.jsonl`` / ``.json`` / ``.ndjson``; ``.conll``). ``delimiter``
    applies to csv / tsv only.
    """
    check_on_bad_row(on_bad_row)
    format = format or _infer_format(path)
    if format not in FORMATS:
        raise DataError(f"{path}: unknown data format {format!r}; set data.format to one of {', '.join(FORMATS)}")
    if format in ("csv", "tsv"):
        default = "\t" if format == "tsv" else ","
        return read_csv(path, delimiter=delimiter or default, on_bad_row=on_bad_row, quotes=quotes)
    if delimiter is not None:
        raise DataError(f"{path}: data.delimiter only applies to csv and tsv files, not {format}; remove it")
    if format == "jsonl":
        return read_jsonl(path, on_bad_row=on_bad_row)
    if format == "conll":
        return read_conll(path, on_bad_row=on_bad_row)
    return read_jointbert(path, on_bad_row=on_bad_row)


def _infer_format(path: str | Path) -> str:
    """Return the format implied by a directory or a file extension."""
    target = Path(path)
    if target.is_dir():
        return "jointbert"
    suffix = target.suffix.lower()
    if suffix in _FORMAT_BY_SUFFIX:
        return _FORMAT_BY_SUFFIX[suffix]
    if not target.exists():
        raise DataError(f"{path}: file or directory does not exist (looked for {target.resolve()}); check the path")
    raise DataError(
        f"{path}: cannot tell the data format from the extension {suffix or '(none)'!r}; "
        f"use {', '.join(_FORMAT_BY_SUFFIX)} or a JointBERT directory, "
        f"or set data.format to one of {', '.join(FORMATS)}"
    )
