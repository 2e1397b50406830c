"""``export:``: where ``mtlflow train`` exports the SavedModel."""

from __future__ import annotations

from mtlflow.config.base import StrictModel


class ExportConfig(StrictModel):
    """Where ``mtlflow train`` exports (relative to the run dir; null to skip)."""

    base_dir: str | None = "export"
