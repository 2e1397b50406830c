"""The config's balancer (``training.balance``) built from :mod:`mtlflow.balance`, with its wrappers."""

from __future__ import annotations

from mtlflow import balance
from mtlflow.config import TrainingConfig
from mtlflow.errors import ConfigError


def make_balancer(training: TrainingConfig, tasks: dict, trained: list[str], steps_per_epoch: int | None = None):
    """The config's balancer over the ``trained`` tasks, with its wrappers.

    ``fixed`` gets the tasks' ``weight``s and ``uncertainty`` which tasks are regressions; under
    any other method a task ``weight`` other than 1 scales the weight the method returns
    (:func:`mtlflow.balance.scale_weights`).
    ``dwa`` without a ``period`` averages its loss windows over one epoch: with ``every: k``
    it sees only every k-th step, so its period is ``steps_per_epoch / k`` of its own updates.
    """
    cfg = training.balance
    params = dict(cfg.hyperparameters)
    if cfg.method == "fixed":
        params["weights"] = [float(tasks[n].spec.weight) for n in trained]
    elif cfg.method == "uncertainty":
        params["regression"] = [tasks[n].type_name == "regression" for n in trained]
    elif cfg.method == "dwa" and steps_per_epoch is not None and "period" not in params:
        params["period"] = max(1, round(steps_per_epoch / cfg.every))
    try:
        balancer = balance.create(cfg.method, **params)
    except ValueError as exc:
        raise ConfigError(f"training.balance: {exc}") from None
    if cfg.normalize:
        balancer = balance.normalize_gradients(balancer)
    if cfg.every > 1:
        balancer = balance.every_k_steps(balancer, cfg.every)
    scales = [float(tasks[n].spec.weight) for n in trained]
    if cfg.method != "fixed" and any(s != 1.0 for s in scales):
        balancer = balance.scale_weights(balancer, scales)
    return balancer
