"""What a training run did, epoch by epoch (written to ``history.json``)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class History:
    """What happened, epoch by epoch (JSON-ready)."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    stopped_early: bool = False
    resumed_from_epoch: int = 0
