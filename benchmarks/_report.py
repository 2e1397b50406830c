"""Shared by the benchmark scripts: write one section of BENCHMARKS.md, keep the others."""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

INTRO = """# Benchmarks

Each script in `benchmarks/` prints its numbers, writes them to
`benchmarks/results/<name>.json` (machine, versions, configuration, per-repetition numbers)
and updates its own section below with the command that produced it. The machine is a shared,
noisy 2-core CPU VM: compare numbers only within one run of one script.
"""


def replace_section(path: Path, heading: str, section: str) -> None:
    """Replaces the section under ``heading`` (up to the next ``## ``), or appends it."""
    text = path.read_text() if path.exists() else INTRO
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == heading), None)
    if start is None:
        new = text.rstrip("\n") + "\n\n" + section.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, after = "\n".join(lines[:start]).rstrip("\n"), "\n".join(lines[end:])
        new = before + "\n\n" + section.rstrip("\n") + "\n" + ("\n" + after.rstrip("\n") + "\n" if after else "")
    path.write_text(new)


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock beside ``path`` (``<name>.lock``), so runs in parallel processes update
    one results file without losing each other's rows. The kernel drops the lock when its
    process dies, so a killed run blocks no other."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_json(path: Path, value) -> None:
    """Writes ``value`` to ``path`` as JSON through a temporary file, so a run killed mid-write
    leaves the previous file whole."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(value, indent=1, ensure_ascii=False), "utf-8")
    tmp.replace(path)


def machine() -> str:
    """``"x86_64, 2 CPUs, TensorFlow 2.21.0, Keras 3.15.1"``: where a result was measured."""
    import os
    import platform

    import keras
    import tensorflow as tf

    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"TensorFlow {tf.__version__}, Keras {keras.__version__}")


def save(result: dict, text: str, output: Path | None, markdown: Path | None, heading: str) -> None:
    """Prints ``text``, writes ``result`` as JSON to ``output`` and ``text`` as the ``heading``
    section of ``markdown`` (either skipped when None)."""
    import json

    print()
    print(text)
    if output:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(result, indent=1, ensure_ascii=False, default=float) + "\n", "utf-8")
        print(f"wrote {output}")
    if markdown:
        replace_section(markdown, heading, text)
        print(f"updated {markdown} ({heading})")
