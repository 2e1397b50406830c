"""The table every reader returns, and the checked line reader they share.

All readers report problems as :class:`~mtlflow.errors.DataError` messages that
start with ``path:line:`` (or ``path:`` for whole-file problems), so a user can
jump straight to the offending line.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mtlflow.errors import DataError

ON_BAD_ROW = ("error", "skip")


def check_on_bad_row(on_bad_row: str) -> None:
    """Raise ``ValueError`` unless ``on_bad_row`` is one of :data:`ON_BAD_ROW`."""
    if on_bad_row not in ON_BAD_ROW:
        allowed = ", ".join(repr(value) for value in ON_BAD_ROW)
        raise ValueError(f"on_bad_row must be one of {allowed}; got {on_bad_row!r}")


@dataclass
class Table:
    """Rows read from one data file (or JointBERT directory), before type checks.

    Values are ``str | int | float | bool | list | None``; ``None`` means missing.
    ``locations[i]`` is the ``"path:line"`` of ``rows[i]``; ``skipped`` holds
    ``(location, reason)`` for rows dropped under ``on_bad_row="skip"``.

    ``typed``: values keep their JSON types (JSON Lines), so a number where a label
    name belongs is an error; in CSV every value is a string. ``column_files``: columns
    read from another file than ``source``, line for line (JointBERT's ``seq.out`` and
    ``label``), so a bad tag is reported where it is. ``pretokenized``: the ``text``
    column is the file's tokens joined by spaces (JointBERT, CoNLL), so the tokenizer
    must be checked to reproduce them from the text a client sends
    (:mod:`mtlflow.data.token_check`).
    """

    source: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    typed: bool = False
    column_files: dict[str, str] = field(default_factory=dict)
    pretokenized: bool = False

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: dict[str, Any], location: str) -> None:
        """Append a valid row read at ``location``."""
        self.rows.append(row)
        self.locations.append(location)

    def cell_location(self, index: int, column: str) -> str:
        """``file:line`` of ``column`` in row ``index``: the row's own, unless the column has its own file."""
        location = self.locations[index]
        if column not in self.column_files:
            return location
        return f"{self.column_files[column]}:{location.rsplit(':', 1)[1]}"

    def reject(self, location: str, reason: str, on_bad_row: str) -> None:
        """Handle a bad row: raise a ``DataError`` or, when skipping, record it."""
        if on_bad_row == "error":
            raise DataError(f"{location}: {reason}")
        self.skipped.append((location, reason))

    def require_rows(self, empty_reason: str) -> Table:
        """Return ``self`` if it has rows; otherwise raise, saying why it has none."""
        if self.rows:
            return self
        if self.skipped:
            location, reason = self.skipped[0]
            raise DataError(
                f"{self.source}: all {len(self.skipped)} rows are invalid and were skipped; "
                f"first: {location}: {reason}"
            )
        raise DataError(f"{self.source}: {empty_reason}")


def iter_lines(path: str | Path) -> Iterator[str]:
    """Yield the lines of a UTF-8 text file one by one, line endings kept.

    A leading UTF-8 byte-order mark is dropped. Missing or unreadable files, UTF-16 and
    UTF-32 files (told by their byte-order mark, or by NUL bytes in every other position),
    other NUL bytes (binary files) and invalid UTF-8 raise ``DataError`` naming the line
    and byte offset.
    """
    source = str(path)
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError(
            f"{source}: file does not exist (looked for {Path(path).resolve()}); check the path"
        ) from None
    except IsADirectoryError:
        raise DataError(
            f"{source}: is a directory, not a file; give a file, "
            "or set data.format to 'jointbert' for a JointBERT directory"
        ) from None
    except OSError as error:
        raise DataError(f"{source}: cannot open the file: {error.strerror}") from None
    with handle:
        offset = 0
        for number, raw in enumerate(handle, 1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8):]
                offset = len(codecs.BOM_UTF8)
            if number == 1:
                _check_not_utf16(source, raw)
            nul = raw.find(b"\0")
            if nul >= 0:
                wide = _utf16_without_mark(raw)
                if wide:
                    raise DataError(f"{source}:{number}: the file is {wide}, not UTF-8 (a NUL byte beside every "
                                    f"ASCII character); {_RESAVE.replace('UTF-16', wide)}")
                raise DataError(
                    f"{source}:{number}: NUL byte at byte offset {offset + nul}; "
                    "this looks like a binary file, not UTF-8 text"
                )
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataError(
                    f"{source}:{number}: invalid UTF-8 at byte offset {offset + error.start} "
                    f"(byte 0x{raw[error.start]:02x}); re-save the file as UTF-8"
                ) from None
            yield line
            offset += len(raw)


_RESAVE = "re-save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8`, or \"Save as: UTF-8\" in an editor)"
_WIDE_BOMS = (  # UTF-32 first: its little-endian mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _check_not_utf16(source: str, first_line: bytes) -> None:
    """Raise if the file starts with a UTF-16 or UTF-32 byte-order mark."""
    for bom, name in _WIDE_BOMS:
        if first_line.startswith(bom):
            raise DataError(
                f"{source}:1: the file is {name} (it starts with the byte-order mark {bom.hex(' ').upper()}), "
                f"not UTF-8; {_RESAVE.replace('UTF-16', name)}"
            )


def _utf16_without_mark(raw: bytes) -> str | None:
    """``"UTF-16LE"`` / ``"UTF-16BE"`` when a line's NUL bytes sit at every other position, else None."""
    body = raw.rstrip(b"\r\n")
    if len(body) < 4:
        return None
    evens, odds = body[0::2], body[1::2]
    if odds.count(0) >= 0.9 * len(odds):
        return "UTF-16LE"  # ASCII "a" is 61 00
    if evens.count(0) >= 0.9 * len(evens):
        return "UTF-16BE"
    return None
