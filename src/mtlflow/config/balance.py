"""``training.balance:``: how task losses (or their gradients) are combined.

A discriminated union on ``method``, one model per method with exactly the hyperparameters
its factory in :mod:`mtlflow.balance` takes, so ``{method: pcgrad, c: 0.4}`` is an unknown
key of ``pcgrad`` (``c`` belongs to ``cagrad``). Hyperparameters left unset (null) take the
factory's default.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Union

from pydantic import Discriminator, Field, Tag, model_validator

from mtlflow.config.base import PositiveInt, StrictModel, tag_of


class BalanceBase(StrictModel):
    """What every method shares, e.g. ``{method: cagrad, c: 0.4, every: 5}``.

    ``method``: ``fixed`` (each task's ``weight``), ``uncertainty``, ``dwa``, ``rlw``,
    ``gradnorm``, ``pcgrad``, ``cagrad``, ``mgda``, ``nash_mtl``, ``aligned_mtl``, ``imtl``
    (see :mod:`mtlflow.balance`); the method's hyperparameters go beside it. ``every: k``
    recomputes the weights every k-th step only and reuses them in between;
    ``normalize: true`` rescales every task gradient to the mean norm first. Tasks with
    ``weight: 0`` (e.g. ESMM's unsupervised CVR tower) take no part in balancing.

    ``gradients``: what gradient-level methods combine. ``parameters`` (exact): each task's
    gradient on the shared parameters, one backward pass per task through the shared
    trunk. ``representation`` (fast): each task's gradient on the shared representation
    (the encoder's output, per example), combined there and back-propagated through the
    encoder once — the "MGDA-UB" upper bound of Sener & Koltun (2018), LibMTL's
    ``rep_grad``. Under ``tf.distribute`` the representation is per replica, so each replica
    combines its own examples' gradients.
    """

    common_keys: ClassVar[tuple[str, ...]] = ("method", "every", "normalize", "gradients")

    method: str
    every: PositiveInt = 1
    normalize: bool = False
    gradients: Literal["parameters", "representation"] = "parameters"

    @model_validator(mode="before")
    @classmethod
    def _null_means_unset(cls, data):
        """A key set to null is left out, so it takes its default (run directories' saved configs
        list every key, with null for those another type or method uses)."""
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    @classmethod
    def hyperparameter_names(cls) -> tuple[str, ...]:
        """The method's own keys (beyond ``method``, ``every``, ``normalize``, ``gradients``)."""
        return tuple(k for k in cls.model_fields if k not in cls.common_keys)

    @property
    def hyperparameters(self) -> dict:
        """The method's hyperparameters that the config sets (unset ones take the factory's default)."""
        return {k: getattr(self, k) for k in self.hyperparameter_names() if getattr(self, k) is not None}


class FixedBalance(BalanceBase):
    """``fixed``: ``Σ_t w_t L_t`` with each task's ``weight``."""

    method: Literal["fixed"] = "fixed"


class UncertaintyBalance(BalanceBase):
    """``uncertainty``: learned homoscedastic-uncertainty weights (Kendall et al., CVPR 2018)."""

    method: Literal["uncertainty"]
    learning_rate: float | None = Field(None, gt=0.0)


class DWABalance(BalanceBase):
    """``dwa``: Dynamic Weight Average (Liu et al., CVPR 2019); ``period`` defaults to an epoch."""

    method: Literal["dwa"]
    temperature: float | None = Field(None, gt=0.0)
    period: PositiveInt | None = None


class RLWBalance(BalanceBase):
    """``rlw``: Random Loss Weighting (Lin et al., TMLR 2022)."""

    method: Literal["rlw"]
    seed: int | None = None


class GradNormBalance(BalanceBase):
    """``gradnorm``: GradNorm (Chen et al., ICML 2018)."""

    method: Literal["gradnorm"]
    alpha: float | None = Field(None, ge=0.0)
    learning_rate: float | None = Field(None, gt=0.0)


class PCGradBalance(BalanceBase):
    """``pcgrad``: gradient surgery (Yu et al., NeurIPS 2020)."""

    method: Literal["pcgrad"]
    seed: int | None = None


class CAGradBalance(BalanceBase):
    """``cagrad``: conflict-averse gradient descent (Liu et al., NeurIPS 2021)."""

    method: Literal["cagrad"]
    c: float | None = Field(None, ge=0.0)
    iterations: PositiveInt | None = None
    rescale: Literal[0, 1, 2] | None = None


class MGDABalance(BalanceBase):
    """``mgda``: the multiple-gradient descent algorithm (Sener & Koltun, NeurIPS 2018)."""

    method: Literal["mgda"]
    iterations: PositiveInt | None = None


class NashMTLBalance(BalanceBase):
    """``nash_mtl``: Nash bargaining (Navon et al., ICML 2022)."""

    method: Literal["nash_mtl"]
    iterations: PositiveInt | None = None


class AlignedMTLBalance(BalanceBase):
    """``aligned_mtl``: aligned multi-task gradients (Senushkin et al., CVPR 2023)."""

    method: Literal["aligned_mtl"]


class IMTLBalance(BalanceBase):
    """``imtl``: impartial multi-task learning (Liu et al., ICLR 2021)."""

    method: Literal["imtl"]


BALANCE_METHODS: dict[str, type[BalanceBase]] = {
    "fixed": FixedBalance,
    "uncertainty": UncertaintyBalance,
    "dwa": DWABalance,
    "rlw": RLWBalance,
    "gradnorm": GradNormBalance,
    "pcgrad": PCGradBalance,
    "cagrad": CAGradBalance,
    "mgda": MGDABalance,
    "nash_mtl": NashMTLBalance,
    "aligned_mtl": AlignedMTLBalance,
    "imtl": IMTLBalance,
}

# Hyperparameters each balancing method takes from the config (the trainer supplies
# ``fixed``'s weights from the tasks' ``weight``, ``uncertainty``'s regression flags from the
# task types, and ``dwa``'s period from the steps per epoch unless it is given).
BALANCE_HYPERPARAMETERS: dict[str, tuple[str, ...]] = {
    name: cls.hyperparameter_names() for name, cls in BALANCE_METHODS.items()
}

BalanceConfig = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in BALANCE_METHODS.items())],
    Discriminator(tag_of("method", "fixed")),
]
"""``training.balance``: one of the method models above, chosen by ``method`` (default ``fixed``)."""
