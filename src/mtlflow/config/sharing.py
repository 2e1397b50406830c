"""``sharing:``: how tasks share the encoder's output; switching architecture is one line.

A discriminated union on ``type`` (default ``hard``), one model per architecture with exactly
its own keys and their defaults:

* ``hard``: one encoder for every task, then optional shared ``units`` layers;
* ``none``: a separate encoder (and ``units`` layers) per task, the single-task baseline;
* ``mmoe``: ``experts`` MLP experts of ``expert_units``, one softmax gate per task
  (Ma et al., KDD 2018);
* ``cgc`` / ``ple``: ``shared_experts`` plus ``task_experts`` per task, gated per task,
  over ``levels`` extraction levels for ``ple`` (Tang et al., RecSys 2020);
* ``cross_stitch``: one MLP column of ``units`` per task, mixed after every layer by a
  learned matrix initialised to ``alpha_self`` on its diagonal (Misra et al., CVPR 2016).

Sentence-level tasks share the pooled vector and token-level tasks the token states;
with both kinds present each kind gets its own sharing layer.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from mtlflow.config.base import PositiveInt, Rate, StrictModel, tag_of

Units = list[PositiveInt]


class SharingBase(StrictModel):
    """What every sharing type has: its ``type`` and a ``dropout`` after the shared layers."""

    type: str
    dropout: Rate = 0.0

    @model_validator(mode="before")
    @classmethod
    def _null_means_unset(cls, data):
        """A key set to null is left out, so it takes its default (run directories' saved configs
        list every key, with null for those another type or method uses)."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def setting(self, key: str):
        """The value of ``key`` for this sharing type (its default when the YAML leaves it out)."""
        return getattr(self, key)


class HardSharing(SharingBase):
    """``hard``: one encoder for every task, then shared dense ``units`` (none by default)."""

    type: Literal["hard"] = "hard"
    units: Units = Field(default_factory=list)


class NoSharing(SharingBase):
    """``none``: a separate encoder and ``units`` layers per task (the single-task baseline)."""

    type: Literal["none"]
    units: Units = Field(default_factory=list)


class MMoESharing(SharingBase):
    """``mmoe``: ``experts`` MLP experts of ``expert_units``, a softmax gate per task
    (optionally with ``gate_units`` hidden layers); Ma et al., KDD 2018."""

    type: Literal["mmoe"]
    experts: PositiveInt = 8
    expert_units: Units = Field(default_factory=lambda: [16])
    gate_units: Units = Field(default_factory=list)


class CGCSharing(SharingBase):
    """``cgc``: ``shared_experts`` plus ``task_experts`` per task, gated per task (Tang et al., RecSys 2020)."""

    type: Literal["cgc"]
    shared_experts: PositiveInt = 1
    task_experts: PositiveInt = 1
    expert_units: Units = Field(default_factory=lambda: [16])


class PLESharing(SharingBase):
    """``ple``: CGC stacked over ``levels`` extraction levels (Tang et al., RecSys 2020)."""

    type: Literal["ple"]
    shared_experts: PositiveInt = 1
    task_experts: PositiveInt = 1
    expert_units: Units = Field(default_factory=lambda: [16])
    levels: PositiveInt = 2


class CrossStitchSharing(SharingBase):
    """``cross_stitch``: one MLP column of ``units`` per task, mixed after every layer by a learned
    matrix initialised to ``alpha_self`` on its diagonal (Misra et al., CVPR 2016)."""

    type: Literal["cross_stitch"]
    units: Units = Field(default_factory=lambda: [64, 32])
    alpha_self: float = Field(0.9, gt=0.0, le=1.0)


SHARING_TYPES: dict[str, type[SharingBase]] = {
    "hard": HardSharing,
    "none": NoSharing,
    "mmoe": MMoESharing,
    "cgc": CGCSharing,
    "ple": PLESharing,
    "cross_stitch": CrossStitchSharing,
}

SharingConfig = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in SHARING_TYPES.items())],
    Discriminator(tag_of("type", "hard")),
]
"""``sharing``: one of the models above, chosen by ``type`` (default ``hard``)."""
