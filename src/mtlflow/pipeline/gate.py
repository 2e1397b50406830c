"""The blessing: may a newly trained model replace the one being served?

Two kinds of check, every one reported whether it passes or not:

* **thresholds** (``pipeline.gate.thresholds``): absolute bars per ``<task>.<metric>``
  or ``joint.<metric>``. A bar is a minimum, except for metrics where lower is better
  (:data:`LOWER_IS_BETTER`: ``rmse``, ``mae``, ``loss``, ``log_loss``), where it is a
  maximum. A metric the evaluation could not compute (``null``/NaN) fails its bar.
* **no regression** against the served version's metrics (its model card): for every
  task both models have, every quality metric both report may be worse by at most
  ``tolerance`` (absolute)::

      higher is better:  new >= served - tolerance
      lower is better:   new <= served + tolerance

  Losses and counts are not compared (a loss is the training objective, not a quality
  the user asked for; bar it with a threshold if wanted). ``joint.accuracy`` is compared
  only when both models have the same tasks, since it means "every task right" and
  adding a task changes what it measures. A task only the new model has has nothing to
  regress against (a note says so); a task the served model has and the new one lacks
  fails, since clients of the served model use it.

This is the model-validation step of TFX's Evaluator (Baylor et al., "TFX: A
TensorFlow-Based Production-Scale Machine Learning Platform", KDD 2017), with its
"value threshold" and "change threshold" kinds. Pure Python: no TensorFlow.

Example::

    blessing = bless({"intent": {"accuracy": 0.93}, "joint": {"accuracy": 0.8}},
                     thresholds={"intent.accuracy": 0.9}, tolerance=0.01,
                     baseline={"intent": {"accuracy": 0.92}})
    blessing.blessed  # True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple, Sequence

from mtlflow.errors import ConfigError

LOWER_IS_BETTER = frozenset({"rmse", "mae", "loss", "log_loss"})
NOT_COMPARED = frozenset({"count", "loss"})
JOINT = "joint"
JOINT_METRICS = ("accuracy", "loss")


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def check_thresholds(thresholds: Mapping[str, float], reported: Mapping[str, Sequence[str]],
                     source: str = "config") -> None:
    """Raises a :class:`ConfigError` naming ``pipeline.gate.thresholds.<key>`` for a bar on
    a metric the evaluation will not report.

    Args:
      thresholds: ``{"<task>.<metric>": bar}``.
      reported: ``{task: metric names it reports}`` (include ``loss``); ``joint``
        reports ``accuracy`` and ``loss``.
      source: the config file, for the message.
    """
    choices = [f"{JOINT}.{m}" for m in JOINT_METRICS] + [f"{t}.{m}" for t, ms in reported.items() for m in ms]
    for key, bar in thresholds.items():
        where = f"{source}: pipeline.gate.thresholds.{key}"
        task, dot, metric = key.partition(".")
        if not dot or not task or not metric:
            raise ConfigError(f"{where}: a threshold key is '<task>.<metric>' (e.g. intent.accuracy); "
                              f"allowed: {', '.join(choices)}")
        known = JOINT_METRICS if task == JOINT else reported.get(task)
        if known is None:
            raise ConfigError(f"{where}: no task {task!r} in this config (tasks: {', '.join(reported)}); "
                              f"allowed keys: {', '.join(choices)}")
        if metric not in known:
            raise ConfigError(f"{where}: {task!r} does not report {metric!r} (it reports {', '.join(known)}); "
                              "fix the key, or add the metric to the task's `metrics:`")
        if not isinstance(bar, (int, float)) or isinstance(bar, bool) or not math.isfinite(bar):
            raise ConfigError(f"{where}: the bar must be a finite number, got {bar!r}")


class Check(NamedTuple):
    """One check of the gate: ``kind`` is ``threshold``, ``regression`` or ``task``."""

    kind: str
    metric: str
    value: float | None
    bound: float | None
    passed: bool
    message: str


@dataclass
class Blessing:
    """The gate's verdict, every check behind it, and notes on what was not compared."""

    blessed: bool
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baseline: dict | None = None

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def reasons(self) -> list[str]:
        """Every check and note as a line: ``fail: …``, ``pass: …``, ``note: …``."""
        return ([f"fail: {c.message}" for c in self.failures] + [f"pass: {c.message}" for c in self.checks if c.passed]
                + [f"note: {n}" for n in self.notes])

    def to_json(self) -> dict:
        return {
            "blessed": self.blessed,
            "reasons": self.reasons,
            "checks": [c._asdict() for c in self.checks],
            "notes": self.notes,
            "baseline": self.baseline,
        }


def _value(metrics: Mapping[str, Any], task: str, metric: str) -> float | None:
    value = (metrics.get(task) or {}).get(metric)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    return float(value)


def _threshold(metrics: Mapping[str, Any], key: str, bar: float) -> Check:
    task, _, metric = key.partition(".")
    value = _value(metrics, task, metric)
    upper = lower_is_better(metric)
    sign = "<=" if upper else ">="
    if value is None:
        return Check("threshold", key, None, bar, False,
                     f"{key} was not computed by the evaluation (needs {sign} {bar:g}); "
                     "is the task labelled in the evaluation split?")
    passed = value <= bar if upper else value >= bar
    relation = sign if passed else (">" if upper else "<")
    kind = "maximum" if upper else "minimum"
    return Check("threshold", key, value, bar, passed, f"{key} = {value:.4f} {relation} {kind} {bar:g} (threshold)")


def _regression(key: str, new: float | None, old: float, tolerance: float, label: str) -> Check:
    metric = key.rpartition(".")[2]
    if new is None:
        return Check("regression", key, None, old, False,
                     f"{key} was not computed now; {label} has {old:.4f}")
    worse = (new - old) if lower_is_better(metric) else (old - new)
    passed = worse <= tolerance + 1e-12
    if worse > 0:
        detail = f"worse by {worse:.4f} {'<=' if passed else '>'} tolerance {tolerance:g}"
    else:
        detail = f"better by {-worse:.4f}" if worse < 0 else "equal"
    return Check("regression", key, new, old, passed, f"{key} = {new:.4f}, {label} has {old:.4f}: {detail}")


def _comparable(metrics: Mapping[str, Any], task: str) -> list[str]:
    values = metrics.get(task) or {}
    return [m for m, v in values.items()
            if m not in NOT_COMPARED and isinstance(v, (int, float, type(None))) and not isinstance(v, bool)]


def bless(metrics: Mapping[str, Any], *, thresholds: Mapping[str, float] | None = None,
          tolerance: float = 0.01, baseline: Mapping[str, Any] | None = None,
          baseline_label: str = "the served version") -> Blessing:
    """Checks ``metrics`` against the bars and against ``baseline``; see the module docstring.

    Args:
      metrics: the new model's ``{task: {metric: value}, "joint": {...}}``.
      thresholds: ``{"<task>.<metric>": bar}`` (check their keys with :func:`check_thresholds`).
      tolerance: how much worse than ``baseline`` a shared metric may be (absolute, >= 0).
      baseline: the served version's metrics (None: nothing served yet).
      baseline_label: how messages name the baseline (e.g. ``served version 3``).

    Returns:
      A :class:`Blessing`; ``blessed`` is True when every check passed.
    """
    if tolerance < 0 or not math.isfinite(tolerance):
        raise ValueError(f"Argument `tolerance` must be a finite number >= 0. Received: tolerance={tolerance}")
    checks = [_threshold(metrics, key, float(bar)) for key, bar in sorted((thresholds or {}).items())]
    notes: list[str] = []
    if baseline is None:
        notes.append("no served version to compare with: only the thresholds apply")
    else:
        new_tasks = [t for t in metrics if t != JOINT and isinstance(metrics[t], Mapping)]
        old_tasks = [t for t in baseline if t != JOINT and isinstance(baseline[t], Mapping)]
        for task in new_tasks:
            if task not in old_tasks:
                notes.append(f"{task}: a new task, {baseline_label} has no metrics for it to regress against")
                continue
            for metric in _comparable(baseline, task):
                old = _value(baseline, task, metric)
                if old is None:
                    notes.append(f"{task}.{metric}: {baseline_label} has no value, not compared")
                elif metric in (metrics.get(task) or {}):
                    checks.append(_regression(f"{task}.{metric}", _value(metrics, task, metric), old,
                                              tolerance, baseline_label))
        for task in old_tasks:
            if task not in new_tasks:
                checks.append(Check("task", task, None, None, False,
                                    f"{task}: {baseline_label} serves this task but the new model lacks it; "
                                    "its clients would break (serve the new model under another name, or "
                                    "retire the served versions first)"))
        if sorted(new_tasks) == sorted(old_tasks):
            old = _value(baseline, JOINT, "accuracy")
            if old is not None and "accuracy" in (metrics.get(JOINT) or {}):
                checks.append(_regression(f"{JOINT}.accuracy", _value(metrics, JOINT, "accuracy"), old,
                                          tolerance, baseline_label))
        elif _value(baseline, JOINT, "accuracy") is not None:
            notes.append(f"{JOINT}.accuracy: not compared, the tasks differ from {baseline_label}'s "
                         f"({', '.join(sorted(old_tasks))} → {', '.join(sorted(new_tasks))})")
    if not checks:
        notes.append("nothing to check: no thresholds and no shared metrics with a served version")
    return Blessing(all(c.passed for c in checks), checks, notes,
                    None if baseline is None else {"label": baseline_label})
