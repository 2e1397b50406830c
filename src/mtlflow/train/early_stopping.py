"""Which monitored value counts as an improvement."""

from __future__ import annotations

import math


def monitor_mode(monitor: str, mode: str) -> str:
    """``min`` for losses and errors, ``max`` for scores, unless the config says."""
    if mode != "auto":
        return mode
    metric = monitor.rpartition(".")[2]
    return "min" if metric in ("loss", "log_loss", "rmse", "mae") else "max"


def improved(value: float, best: float | None, mode: str, min_delta: float = 0.0) -> bool:
    """True when ``value`` beats ``best`` by more than ``min_delta`` (NaN never improves)."""
    if value is None or math.isnan(value):
        return False
    if best is None or math.isnan(best):
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


def lookup(metrics: dict, monitor: str) -> float:
    """``metrics["intent"]["accuracy"]`` for ``intent.accuracy``; ``loss`` is ``joint.loss``."""
    if monitor == "loss":
        monitor = "joint.loss"
    head, _, metric = monitor.partition(".")
    value = metrics.get(head, {}).get(metric)
    return math.nan if value is None else float(value)
