"""The config's balancer (``training.balance``) built from :mod:`mtlflow.balance`, with its wrappers."""

from __future__ import annotations

from mtlflow import balance
from mtlflow.config import TrainingConfig
from mtlflow.errors import ConfigError


def make_balancer(training: TrainingConfig, tasks: dict, trained: list[str], period: int | None = None):
    """The config's balancer over the ``trained`` tasks, with its wrappers."""
    cfg = training.balance
    params = dict(cfg.hyperparameters)
    if cfg.method == "fixed":
        params["weights"] = [float(tasks[n].spec.weight) for n in trained]
    elif cfg.method == "uncertainty":
        params["regression"] = [tasks[n].type_name == "regression" for n in trained]
    elif cfg.method == "dwa" and period is not None and "period" not in params:
        params["period"] = period
    try:
        balancer = balance.create(cfg.method, **params)
    except ValueError as exc:
        raise ConfigError(f"training.balance: {exc}") from None
    if cfg.normalize:
        balancer = balance.normalize_gradients(balancer)
    if cfg.every > 1:
        balancer = balance.every_k_steps(balancer, cfg.every)
    return balancer
