"""``training.groups`` and ``training.stages``: per-group optimizers and a freezing schedule."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mtlflow.config.base import PositiveInt, StrictModel


class GroupConfig(StrictModel):
    """Optimizer settings of one parameter group (``shared`` or a task's tower and head)."""

    optimizer: Literal["adam", "adamw", "sgd"] | None = None
    learning_rate: float | None = Field(None, gt=0.0)


class StageConfig(StrictModel):
    """One stage of a training schedule: for ``epochs`` (or ``steps``), ``freeze`` these groups
    and scale the learning rate of others by ``learning_rate_multipliers``. The last stage
    may omit its length: it lasts until the end."""

    epochs: PositiveInt | None = None
    steps: PositiveInt | None = None
    freeze: list[str] = Field(default_factory=list)
    learning_rate_multipliers: dict[str, Annotated[float, Field(gt=0.0)]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_length(self):
        if self.epochs is not None and self.steps is not None:
            raise ValueError("give a stage either epochs or steps, not both")
        return self
