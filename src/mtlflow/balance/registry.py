"""Balancers by name: ``create("pcgrad", seed=1)``, and configs that round-trip."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from mtlflow.balance.aligned_mtl import aligned_mtl
from mtlflow.balance.base import Balancer
from mtlflow.balance.cagrad import cagrad
from mtlflow.balance.dwa import dwa
from mtlflow.balance.every_k_steps import every_k_steps
from mtlflow.balance.fixed import fixed
from mtlflow.balance.gradnorm import gradnorm
from mtlflow.balance.imtl import imtl
from mtlflow.balance.mgda import mgda
from mtlflow.balance.nash_mtl import nash_mtl
from mtlflow.balance.normalize_gradients import normalize_gradients
from mtlflow.balance.pcgrad import pcgrad
from mtlflow.balance.rlw import rlw
from mtlflow.balance.scale_weights import scale_weights
from mtlflow.balance.uncertainty import uncertainty

BALANCERS: dict[str, Callable[..., Balancer]] = {
    "fixed": fixed,
    "uncertainty": uncertainty,
    "dwa": dwa,
    "rlw": rlw,
    "gradnorm": gradnorm,
    "pcgrad": pcgrad,
    "cagrad": cagrad,
    "mgda": mgda,
    "nash_mtl": nash_mtl,
    "aligned_mtl": aligned_mtl,
    "imtl": imtl,
}
WRAPPERS: dict[str, Callable[..., Balancer]] = {
    "every_k_steps": every_k_steps,
    "normalize_gradients": normalize_gradients,
    "scale_weights": scale_weights,
}


def create(name: str, **hyperparameters) -> Balancer:
    """The balancer registered as ``name``, built with ``hyperparameters``.

    Raises:
      ValueError: naming an unknown method (and the known ones), an unknown
        hyperparameter (and the accepted ones), or a bad value.

    Example::

        balancer = create("cagrad", c=0.5)
    """
    if name not in BALANCERS:
        raise ValueError(f"Unknown balancing method {name!r}. Known methods: {', '.join(sorted(BALANCERS))}")
    factory = BALANCERS[name]
    accepted = list(inspect.signature(factory).parameters)
    for key, value in hyperparameters.items():
        if key not in accepted:
            raise ValueError(f"Method `{name}` has no hyperparameter `{key}` (received {key}={value!r}). "
                             f"Its hyperparameters: {', '.join(accepted) or 'none'}")
    return factory(**hyperparameters)


def get_config(balancer: Balancer) -> dict[str, Any]:
    """``{"name": ..., **hyperparameters}`` (wrapped balancers nested), JSON-ready."""
    config = {key: get_config(value) if isinstance(value, Balancer) else value
              for key, value in balancer.config.items()}
    return {"name": balancer.name, **config}


def from_config(config: dict[str, Any]) -> Balancer:
    """Inverse of :func:`get_config`."""
    config = dict(config)
    name = config.pop("name")
    if name in WRAPPERS:
        return WRAPPERS[name](from_config(config.pop("balancer")), **config)
    return create(name, **config)
