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
    """

    source: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: dict[str, Any], location: str) -> None:
        """Append a valid row read at ``location``."""
        self.rows.append(row)
        self.locations.append(location)

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

    A leading BOM is dropped. Missing or unreadable files, NUL bytes (binary
    files) and invalid UTF-8 raise ``DataError`` naming the line and byte offset.
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
            nul = raw.find(b"\0")
            if nul >= 0:
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
