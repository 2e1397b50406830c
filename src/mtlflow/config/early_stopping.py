"""``training.early_stopping:``: stop when the monitored metric stops improving."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtlflow.config.base import PositiveInt, StrictModel


class EarlyStopping(StrictModel):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    ``monitor`` is ``loss`` (the weighted validation loss, also ``joint.loss``),
    ``joint.accuracy`` (every task right), ``joint.mean_score`` (the mean of each task's
    headline score, for partially labelled data), or ``<task>.<metric>`` (e.g. ``slots.f1``,
    ``intent.loss``).
    """

    monitor: str = "loss"
    mode: Literal["min", "max", "auto"] = "auto"
    patience: PositiveInt = 3
    min_delta: float = Field(0.0, ge=0.0)
