"""``tasks:`` entries: the config fields every task type shares."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from mtlflow.config.base import StrictModel

TaskName = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$", max_length=64)]


class TaskSpec(StrictModel):
    """One entry under ``tasks:``.

    Attributes:
      name: identifier used for the model output, metrics and logs.
      type: the task type (``multiclass``, ``multilabel``, ``binary``, ``regression``, ``tagging``).
      column: the data column holding this task's label (defaults to ``name``).
      weight: fixed loss weight in the weighted sum of task losses.
      tower: hidden units of the task-specific tower between the shared representation and the head.
      dropout: dropout rate inside the tower.
      metrics: the metrics to report (default: every metric of the task type).
      where: a column that must be true (1/true/yes) for this task's label to count, in
        training and evaluation; e.g. a conversion-rate task ``where: click`` learns and is
        evaluated on clicked impressions only. Rows where it is false or missing are masked
        for this task and counted as ``filtered``.
    """

    metric_names: ClassVar[tuple[str, ...]] = ()

    name: TaskName
    column: str | None = None
    weight: float = Field(1.0, ge=0.0)
    tower: list[Annotated[int, Field(gt=0)]] = Field(default_factory=list)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    metrics: list[str] | None = None
    where: str | None = None

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, metrics):
        unknown = [m for m in metrics or () if m not in cls.metric_names]
        if unknown:
            raise ValueError(
                f"unknown metric {unknown[0]!r}; allowed: {', '.join(cls.metric_names)}"
            )
        return metrics

    @property
    def label_column(self) -> str:
        return self.column or self.name
