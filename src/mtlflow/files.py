"""Run-directory files: written atomically, read with errors that name the file.

A run writes ``history.json`` after every epoch, and ``state.json``, ``metrics.json``,
``data_report.json``, ``config.yaml``, plots and gate reports while it goes. A process
killed while one of them is half-written must not leave a file that ``evaluate`` or
``--resume`` trips over, so every write goes to a temporary file in the same directory
(the same file system) and is renamed over the target with :func:`os.replace`, which
POSIX makes atomic: a reader sees the old file or the new one, never a mix.

Example::

    write_json_atomic(run_dir / "history.json", {"epochs": [...]})
    with replacing(run_dir / "training_curves.png") as tmp:
        figure.savefig(tmp)                    # any writer that takes a path
    history = read_json(run_dir / "history.json")
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mtlflow.errors import MtlflowError


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success, move it onto ``path`` atomically.

    The temporary file keeps ``path``'s suffix (``.tmp-<random>.png``) so writers that
    choose a format by extension (matplotlib) still do. On an exception the temporary file
    is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.tmp-", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:  # the bytes reach the disk before the name does
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with replacing(path) as tmp:
        tmp.write_text(text, "utf-8")
    return Path(path)


def write_json_atomic(path: str | os.PathLike, value: Any, **dumps: Any) -> Path:
    """``json.dumps(value, ensure_ascii=False, indent=1, **dumps)`` written atomically.

    The text is built before the file is touched, so a value that cannot be serialised
    leaves the old file in place.
    """
    options = {"ensure_ascii": False, "indent": 1, **dumps}
    return write_text_atomic(path, json.dumps(value, **options) + "\n")


def read_json(path: str | os.PathLike, fix: str = "") -> Any:
    """The JSON value in ``path``; a missing or damaged file raises :class:`MtlflowError` naming it.

    ``fix`` says what the user can do about a damaged file (e.g. "train the run again").
    """
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise MtlflowError(f"{path}: file does not exist{'; ' + fix if fix else ''}") from None
    except UnicodeDecodeError as error:
        raise MtlflowError(f"{path}: not UTF-8 text (byte offset {error.start}); the file is damaged"
                           f"{'; ' + fix if fix else ''}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = "the end of the file (it is cut off)" if error.pos >= len(text.rstrip()) \
            else f"line {error.lineno} column {error.colno}"
        raise MtlflowError(
            f"{path}: not valid JSON ({error.msg.removesuffix(' at')} at {where}); the file is damaged, "
            f"e.g. by a process killed while writing it{'; ' + fix if fix else ''}"
        ) from None
