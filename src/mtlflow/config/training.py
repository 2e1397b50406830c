"""``training:``: optimisation settings; its subsections live in their own modules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mtlflow.config.balance import BalanceConfig, FixedBalance
from mtlflow.config.base import KeyPathError, PositiveInt, StrictModel
from mtlflow.config.distribution import DistributionConfig
from mtlflow.config.early_stopping import EarlyStopping
from mtlflow.config.schedule import GroupConfig, StageConfig

_SAVED_SHUFFLE_BUFFER = 100_000  # the old default, in every config.yaml of a run directory saved with it


class TrainingConfig(StrictModel):
    """Optimisation. ``clip_norm`` clips the combined gradient by global norm and
    ``task_clip_norm`` each task's gradient on the shared parameters before they are
    combined; ``gradient_centralization`` makes every kernel gradient zero-mean (Yong et
    al., ECCV 2020); ``groups`` give the shared trunk (``shared``) or a task its own
    optimizer or learning rate; ``stages`` freeze or slow groups for a while (e.g. the
    encoder for the first epoch); ``diagnostics_every`` measures the task gradients'
    cosine similarity every that many steps (null: never, unless the balancer needs them).
    ``learning_rate_schedule`` (``linear`` or ``cosine`` decay to 0 over the run, after a
    linear warm-up over ``warmup_fraction`` of the steps) scales every group's rate.
    ``layer_decay`` (a pretrained encoder only; null: off) gives the encoder's top block
    ``d`` times the rate, the block below ``d²`` times, and so on down to the embeddings
    (layer-wise decay; :mod:`mtlflow.train.layer_decay`). ``ema_momentum`` (null: off)
    keeps the exponential moving average of the weights, ``θ̄ ← μ θ̄ + (1 − μ) θ`` after
    every step; validation, the best checkpoint and the export use the average
    (:mod:`mtlflow.train.weight_averaging`).

    There is no ``shuffle_buffer``: every epoch is a seeded permutation of the whole split
    (an exact shuffle, see :meth:`~mtlflow.data.dataset.SplitData.batches`), which no buffer
    size changes. The key is refused, except with the value 100000 that run directories
    saved before its removal list.
    """

    @model_validator(mode="before")
    @classmethod
    def _no_shuffle_buffer(cls, data):
        if isinstance(data, dict) and "shuffle_buffer" in data:
            if data["shuffle_buffer"] != _SAVED_SHUFFLE_BUFFER:
                raise KeyPathError("training.shuffle_buffer", "has no effect and is no longer accepted: every epoch "
                                   "is an exact seeded shuffle of the whole split; remove the key")
            data = {k: v for k, v in data.items() if k != "shuffle_buffer"}
        return data

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 64
    learning_rate: float = Field(1e-3, gt=0.0)
    learning_rate_schedule: Literal["constant", "linear", "cosine"] = "constant"
    warmup_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = Field(0.0, ge=0.0)
    clip_norm: float | None = Field(5.0, gt=0.0)
    seed: int = 42
    steps_per_execution: PositiveInt = 1
    early_stopping: EarlyStopping | None = Field(default_factory=EarlyStopping)
    balance: BalanceConfig = Field(default_factory=FixedBalance)
    keep_checkpoints: PositiveInt = 2
    task_clip_norm: float | None = Field(None, gt=0.0)
    gradient_centralization: bool = False
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    layer_decay: float | None = Field(None, gt=0.0, le=1.0)
    ema_momentum: float | None = Field(None, gt=0.0, lt=1.0)
    stages: list[StageConfig] = Field(default_factory=list)
    diagnostics_every: PositiveInt | None = 100
    distribution: DistributionConfig = Field(default_factory=DistributionConfig)
