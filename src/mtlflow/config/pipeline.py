"""``pipeline:``: data validation, the push gate and evaluation slices."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtlflow.config.base import PositiveInt, StrictModel


class ValidationConfig(StrictModel):
    """The pipeline's data validation: check every split against a schema.

    ``schema_file``: a saved ``schema.json`` to check against (relative to the config file);
    without it the schema is inferred from the training split. ``on_anomaly``: ``fail``
    stops the pipeline on any error-level anomaly, ``warn`` reports and goes on.
    ``max_missing_rate_increase``: how much more often a column may be missing in another
    split than in training; ``max_skew``: the largest allowed L∞ distance between a
    categorical/label column's value frequencies in training and another split.
    ``max_new_category_rate``: the largest allowed share of a categorical input's values
    never seen in training; ``range_margin``: how far (as a fraction of the training
    range ``max - min``) a number may lie outside the training range before it is reported.
    """

    schema_file: str | None = None
    on_anomaly: Literal["fail", "warn"] = "fail"
    max_missing_rate_increase: float = Field(0.1, ge=0.0, le=1.0)
    max_skew: float = Field(0.3, gt=0.0, le=1.0)
    max_new_category_rate: float = Field(0.1, ge=0.0, le=1.0)
    range_margin: float = Field(0.1, ge=0.0)


class GateConfig(StrictModel):
    """When a newly trained model may be pushed (the "blessing").

    ``thresholds``: absolute bars per ``<task>.<metric>`` (``joint.accuracy`` too); a bar
    is a minimum, except for metrics where lower is better (``rmse``, ``mae``,
    ``log_loss``, ``loss``), where it is a maximum. ``tolerance``: how much worse than the
    version currently served a shared quality metric (not a loss) may be (absolute) before
    the new model is refused (see :mod:`mtlflow.pipeline.gate`).
    """

    thresholds: dict[str, float] = Field(default_factory=dict)
    tolerance: float = Field(0.01, ge=0.0)


class PipelineConfig(StrictModel):
    """``mtlflow pipeline``: validate → transform → train → evaluate → gate → push.

    ``slices``: columns of the evaluation data whose values the evaluation also reports
    metrics per slice (one slice per value); a slice with fewer than
    ``min_slice_examples`` examples is reported with its count only.
    """

    validation: ValidationConfig = Field(default_factory=ValidationConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    slices: list[str] = Field(default_factory=list)
    min_slice_examples: PositiveInt = 10
