"""Shared by the benchmark scripts: write one section of BENCHMARKS.md, keep the others."""

from __future__ import annotations

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
