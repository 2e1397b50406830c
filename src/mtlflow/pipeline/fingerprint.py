"""Content fingerprints: what a pipeline stage's cache key is made of.

A stage is reused when its *fingerprint* is unchanged::

    fingerprint = sha256(stage name, config-section hash, input-file hashes,
                         upstream output hashes, code version, profile)

Files are hashed by content (SHA-256), directories by the sorted ``(relative path,
file hash)`` pairs of every file below them, and config sections by their canonical
JSON (sorted keys), so the same content always gives the same hash wherever it lives.

The code version is ``mtlflow.__version__`` plus ``git describe --always --dirty`` of
the repository holding the installed package (read-only, without optional locks), or
the ``MTLFLOW_CODE_REVISION`` environment variable when set (e.g. by an image build
with no ``.git``), else ``"unknown"``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def hash_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hash_json(value: Any) -> str:
    """SHA-256 of ``value``'s canonical JSON (sorted keys, no whitespace)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hash_bytes(text.encode("utf-8"))


def hash_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_path(path: str | Path) -> str | None:
    """Hash of a file, or of a directory's files (relative paths and contents); None if missing."""
    path = Path(path)
    if path.is_file():
        return hash_file(path)
    if path.is_dir():
        entries = sorted((p.relative_to(path).as_posix(), hash_file(p)) for p in path.rglob("*") if p.is_file())
        return hash_json(entries)
    return None


def hash_files(paths: dict[str, str | Path | None]) -> dict[str, str | None]:
    """``{label: hash}`` of the given paths (None for a path not given or missing)."""
    return {label: (hash_path(p) if p is not None else None) for label, p in paths.items()}


@functools.lru_cache(maxsize=None)
def _git_describe(directory: str) -> str:
    try:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", directory, "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def code_version() -> dict[str, str]:
    """``{"mtlflow": version, "revision": git describe | $MTLFLOW_CODE_REVISION | "unknown"}``."""
    import mtlflow

    revision = os.environ.get("MTLFLOW_CODE_REVISION") or _git_describe(str(Path(mtlflow.__file__).resolve().parent))
    return {"mtlflow": mtlflow.__version__, "revision": revision}
