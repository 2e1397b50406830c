"""``pipeline.json``: what every stage of a pipeline run did, and the cache it keys.

Per stage (:class:`StageRecord`): its ``status`` (``ran``, ``cached``, ``failed`` or
``skipped``), ``inputs`` (files with their content hashes, the hash of the config
section the stage reads, the profile, the upstream stages' output hashes), ``outputs``
(paths relative to the run directory, with hashes), the ``code_version``, when it
``started`` and how many ``seconds`` it took, its ``fingerprint``, a one-line
``message`` and, when cached, when the reused outputs were made (``reused_from``). A
stage that failed or was skipped keeps the last finished record of that stage
(``last_good``), so a run that failed on bad data does not cost the next run its cache.
The file is rewritten atomically after every stage, so an interrupted run keeps the
record of what finished.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mtlflow.errors import MtlflowError
from mtlflow.evaluate.report import _write_atomic
from mtlflow.pipeline.fingerprint import hash_json, hash_path

RECORD_FILE = "pipeline.json"
STATUSES = ("ran", "cached", "failed", "skipped")


class PipelineError(MtlflowError):
    """A stage failed; the message names the stage and where its report is.

    ``exit_code`` is the failing error's (2 for config/data problems, 1 otherwise).
    """

    kind = "pipeline failed"

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class StageRecord:
    """One stage of one pipeline run (see the module docstring)."""

    name: str
    status: str = "skipped"
    fingerprint: str | None = None
    started: str | None = None
    seconds: float = 0.0
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str | None] = field(default_factory=dict)
    code_version: dict[str, str] = field(default_factory=dict)
    message: str = ""
    reused_from: str | None = None  # cached: when the reused outputs were made
    last_good: dict | None = None  # failed or skipped: the last finished record, still a cache entry

    def outputs_hash(self) -> str:
        """One hash of every output (what downstream stages key on)."""
        return hash_json(self.outputs)

    def finished(self) -> bool:
        return self.status in ("ran", "cached")

    def cache_entry(self) -> StageRecord | None:
        """This record if it finished, else the last finished one it keeps (or None)."""
        if self.finished():
            return self
        return StageRecord.from_json(self.last_good) if self.last_good else None

    def reusable(self, fingerprint: str, run_dir: Path) -> bool:
        """Finished with the same ``fingerprint``, and every output still has its recorded hash."""
        if not self.finished() or self.fingerprint != fingerprint or not self.outputs:
            return False
        return all(hash_path(run_dir / path) == digest for path, digest in self.outputs.items())

    @classmethod
    def from_json(cls, d: dict) -> StageRecord:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class PipelineRecord:
    """The whole run: its config, profile, serving directory, and one record per stage."""

    config: str
    config_hash: str
    profile: str | None
    serving_dir: str
    code_version: dict[str, str]
    started: str
    stages: dict[str, StageRecord] = field(default_factory=dict)
    seconds: float = 0.0
    result: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        out = asdict(self)
        out["stages"] = [asdict(s) for s in self.stages.values()]
        return out

    def save(self, run_dir: Path) -> Path:
        path = Path(run_dir) / RECORD_FILE
        _write_atomic(path, json.dumps(self.to_json(), ensure_ascii=False, indent=1) + "\n")
        return path

    @staticmethod
    def previous_stages(run_dir: Path) -> dict[str, StageRecord]:
        """The last finished record of every stage in the run directory's ``pipeline.json``
        (see :meth:`StageRecord.cache_entry`); {} if there is none or it is unreadable."""
        path = Path(run_dir) / RECORD_FILE
        try:
            raw = json.loads(path.read_text("utf-8"))
            entries = {s["name"]: StageRecord.from_json(s).cache_entry() for s in raw.get("stages", [])}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {name: entry for name, entry in entries.items() if entry is not None}
