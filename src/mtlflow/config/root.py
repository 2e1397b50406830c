"""The whole config: its sections, and the checks that span sections (task names, monitors, groups)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from mtlflow.config.base import StrictModel
from mtlflow.config.checks import check_all
from mtlflow.config.data import DataConfig
from mtlflow.config.encoder import EncoderConfig
from mtlflow.config.export import ExportConfig
from mtlflow.config.inputs import InputsConfig
from mtlflow.config.pipeline import PipelineConfig
from mtlflow.config.sharing import HardSharing, SharingConfig
from mtlflow.config.task_types import TaskConfig
from mtlflow.config.training import TrainingConfig


class Config(StrictModel):
    """A complete mtlflow run."""

    data: DataConfig
    inputs: InputsConfig
    encoder: EncoderConfig = Field(default_factory=EncoderConfig)
    sharing: SharingConfig = Field(default_factory=HardSharing)
    tasks: list[TaskConfig] = Field(min_length=1)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    export: ExportConfig = Field(default_factory=ExportConfig)
    pipeline: PipelineConfig = Field(default_factory=PipelineConfig)
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _cross_checks(self):
        check_all(self)
        return self

    def task(self, name: str):
        return next(t for t in self.tasks if t.name == name)
