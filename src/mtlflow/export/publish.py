"""Publishing a finished export as ``BASE/<version>/``: one at a time, never over another.

An export is written into a hidden staging directory beside the versions
(``BASE/.tmp-<pid>-<random>``) and renamed to its number when complete, so a server
polling ``BASE`` never loads half a model. Choosing the number and renaming happen
under an exclusive lock on the ``BASE`` directory itself (``fcntl.flock`` on its
descriptor: no lock file is left beside the versions, and the kernel releases the lock
if the process dies), so two exports to one base at the same moment take
versions *n* and *n+1*: neither crashes, neither replaces the other. A lock, rather
than "claim the next free number with ``mkdir``", keeps every numbered directory
complete at all times; and a plain ``rename`` cannot claim a number by itself, since
renaming onto an *empty* directory silently replaces it. The lock is held only for the
rename, never while TensorFlow writes the model, so exports still run side by side.

Staging directories whose process is gone (killed exports) are removed by the next
export to the same base, and when a run is resumed.

This module imports no TensorFlow (the serving side lists versions with it).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mtlflow.errors import MtlflowError

_STAGING = re.compile(r"\.tmp-(\d+)-[0-9a-f]+")


def existing_versions(base: Path) -> list[int]:
    """Version numbers under ``base`` (numbered directories, complete or not).

    Used to pick the next free number; :func:`complete_versions` lists the loadable ones.
    """
    if not Path(base).is_dir():
        return []
    return sorted(int(p.name) for p in Path(base).iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name))


def complete_versions(base: Path) -> list[int]:
    """Versions a server may load: numbered directories holding a ``saved_model.pb``.

    Hidden staging directories (``.tmp-…``) are never numbered, so they never appear.
    """
    return [v for v in existing_versions(Path(base)) if (Path(base) / str(v) / "saved_model.pb").is_file()]


def staging_directory(base: Path) -> Path:
    """A fresh hidden directory name under ``base`` for this process's export (not created)."""
    return Path(base) / f".tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as error:
        return error.errno == errno.EPERM  # exists, owned by another user
    return True


def remove_abandoned_staging(base: Path) -> list[str]:
    """Delete ``base``'s staging directories whose exporting process no longer runs; returns their names.

    A staging directory of a live process (a concurrent export) is left alone.
    """
    removed = []
    for path in sorted(Path(base).iterdir()) if Path(base).is_dir() else ():
        match = _STAGING.fullmatch(path.name)
        if match and path.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed


@contextmanager
def _locked(base: Path) -> Iterator[None]:
    """Hold an exclusive lock on the directory ``base`` (other exporters wait, readers do not)."""
    descriptor = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def publish(staging: Path, base: Path, version: int | None = None) -> Path:
    """Rename the complete export ``staging`` to ``base/<version>`` (the next free number by default).

    Raises :class:`MtlflowError` when an explicit ``version`` already exists (``staging``
    is then left for the caller to remove).
    """
    base = Path(base)
    with _locked(base):
        if version is None:
            version = (existing_versions(base) or [0])[-1] + 1
        target = base / str(version)
        if target.exists():
            raise MtlflowError(f"{target}: version {version} already exists; pick another --version or remove it")
        os.rename(staging, target)
    return target
