"""Read the JointBERT (Goo et al.) directory layout into a :class:`Table`.

The directory holds ``seq.in`` (one whitespace-tokenised utterance per line),
``seq.out`` (one BIO tag per token) and optionally ``label`` (one intent per
line); line *i* of each file describes the same utterance.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest
from pathlib import Path
from typing import NoReturn

from mtlflow.data.table import Table, check_on_bad_row, iter_lines
from mtlflow.errors import DataError

_REQUIRED = ("seq.in", "seq.out")
_OPTIONAL = "label"


def read_jointbert(directory: str | Path, *, on_bad_row: str = "error") -> Table:
    """Read ``seq.in`` / ``seq.out`` / ``label`` in lockstep, one row per line.

    Rows are ``{"text", "tokens", "tags", "label"}`` (no ``label`` when the file
    is absent; an empty label line gives ``None``). Locations point at ``seq.in``; the
    table's ``column_files`` send a bad tag to ``seq.out`` and a bad intent to ``label``.
    """
    check_on_bad_row(on_bad_row)
    root = _check_directory(directory)
    names = [*_REQUIRED, *([_OPTIONAL] if (root / _OPTIONAL).is_file() else [])]
    files = {"tags": str(root / "seq.out"), **({"label": str(root / _OPTIONAL)} if len(names) > 2 else {})}
    table = Table(str(directory), columns=["text", "tokens", "tags", *names[2:]], pretokenized=True, column_files=files)
    streams = [iter_lines(root / name) for name in names]
    for number, lines in enumerate(zip_longest(*streams), 1):
        if None in lines:
            _raise_count_mismatch(root, names, lines, streams, number)
        location = f"{root / 'seq.in'}:{number}"
        tokens, tags = lines[0].split(), lines[1].split()
        if not tokens:
            table.reject(
                location,
                "empty utterance (no tokens); remove this line from seq.in, seq.out and label together",
                on_bad_row,
            )
        elif len(tags) != len(tokens):
            table.reject(
                location,
                f"{len(tokens)} tokens but seq.out line {number} has {len(tags)} tags; give one BIO tag "
                f"per token (tokens: {' '.join(tokens)} | tags: {' '.join(tags)})",
                on_bad_row,
            )
        else:
            row = {"text": " ".join(tokens), "tokens": tokens, "tags": tags}
            if len(lines) > 2:
                row["label"] = lines[2].strip() or None
            table.add(row, location)
    return table.require_rows("seq.in is empty; write one tokenised utterance per line")


def _check_directory(directory: str | Path) -> Path:
    """Return the directory as a ``Path``, raising if it or a required file is missing."""
    root = Path(directory)
    if not root.exists():
        raise DataError(f"{directory}: directory does not exist (looked for {root.resolve()}); check the path")
    if not root.is_dir():
        raise DataError(
            f"{directory}: is a file, not a directory; the jointbert format reads a directory "
            "holding seq.in, seq.out and optionally label"
        )
    missing = [name for name in _REQUIRED if not (root / name).is_file()]
    if missing:
        raise DataError(
            f"{directory}: missing {' and '.join(missing)}; a JointBERT directory needs seq.in "
            "(tokenised utterances) and seq.out (BIO tags), and optionally label (intents)"
        )
    return root


def _raise_count_mismatch(
    root: Path,
    names: list[str],
    lines: tuple[str | None, ...],
    streams: list[Iterator[str]],
    number: int,
) -> NoReturn:
    """Raise for files that run out at line ``number`` while others go on."""
    counts = [number - 1 + (line is not None) + sum(1 for _ in stream) for line, stream in zip(lines, streams)]
    ended = [name for name, line in zip(names, lines) if line is None]
    going_on = next(name for name, line in zip(names, lines) if line is not None)
    summary = ", ".join(f"{name} has {count}" for name, count in zip(names, counts))
    raise DataError(
        f"{root / going_on}:{number}: {' and '.join(ended)} {'has' if len(ended) == 1 else 'have'} "
        f"no line {number} but {going_on} does (line counts: {summary}); "
        "the files need exactly one line per utterance"
    )
