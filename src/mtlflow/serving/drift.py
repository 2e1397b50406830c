"""Drift: the recent distribution of each task's outputs against the model card's reference.

For every task the export recorded (see :mod:`mtlflow.export.reference`), the monitor
keeps the outputs of the last ``window`` examples served and compares them with the
reference of the validation split by the population stability index,

    PSI = Σ_i (a_i − e_i) · ln(a_i / e_i),

over class frequencies (``classes``) and over the frequencies of the bins cut at the
reference quintiles (``scores``: each bin holds 20 % of the reference, so this is a
quantile-based statistic). Frequencies are floored at 1e-4. With B bins, a reference of
n and a window of m examples, sampling noise alone gives PSI ≈ (B − 1)(1/n + 1/m), hence
the ``min_examples`` before any alert. A PSI above 0.1 is commonly
read as a moderate shift and above 0.2 (the default threshold) as a significant one.
Crossing the threshold, once a window holds ``min_examples`` examples, logs a warning
(and going back under it, a notice).

References:
  Yurdakul, B. (2018). Statistical properties of population stability index. Western
  Michigan University, dissertation.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque

import numpy as np

from mtlflow.export.reference import bin_counts, observations

log = logging.getLogger("mtlflow.serving")

FLOOR = 1e-4


def psi(expected, actual) -> float:
    """Population stability index of ``actual`` counts against ``expected`` frequencies."""
    e = np.asarray(expected, np.float64)
    a = np.asarray(actual, np.float64)
    e = np.maximum(e / max(e.sum(), 1e-12), FLOOR)
    a = np.maximum(a / max(a.sum(), 1e-12), FLOOR)
    return float(np.sum((a - e) * np.log(a / e)))


class _Window:
    """Counts of one observation kind of one task over the last ``size`` examples."""

    def __init__(self, kind: str, reference: dict, size: int):
        self.kind = kind
        self.size = size
        if kind == "classes":
            self.labels = list(reference["labels"])
            self.expected = np.append(np.asarray(reference["frequencies"], np.float64), 0.0)  # + unseen classes
            # a label's index by its text and by its UTF-8 bytes (what TensorFlow outputs)
            self.index = {label: i for i, label in enumerate(self.labels)}
            self.index.update({label.encode("utf-8"): i for label, i in list(self.index.items())})
        else:
            self.edges = list(reference["edges"])
            self.expected = np.asarray(reference["frequencies"], np.float64)
        self.chunks: deque[tuple[int, np.ndarray]] = deque()
        self.counts = np.zeros(len(self.expected), np.int64)
        self.examples = 0
        self.alert = False

    def class_counts(self, values: np.ndarray) -> np.ndarray:
        """Counts per label, values of no label in the last bin (as ``reference.class_counts``,
        by a dictionary of the distinct values rather than sorting object arrays: 5x faster)."""
        counts = np.zeros(len(self.expected), np.int64)
        unseen = len(self.labels)
        for value, count in Counter(np.asarray(values).reshape(-1).tolist()).items():
            index = self.index.get(value)
            if index is None:  # not a label as it is: its text (invalid UTF-8 replaced), or unseen
                text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
                index = self.index.get(text, unseen)
            counts[index] += count
        return counts

    def add(self, values: np.ndarray, examples: int) -> None:
        counts = self.class_counts(values) if self.kind == "classes" else bin_counts(values, self.edges)
        self.chunks.append((examples, counts))
        self.counts += counts
        self.examples += examples
        while self.chunks and self.examples - self.chunks[0][0] >= self.size:
            old_examples, old_counts = self.chunks.popleft()
            self.examples -= old_examples
            self.counts -= old_counts

    def value(self) -> float:
        return psi(self.expected, self.counts) if self.counts.sum() else 0.0


class DriftMonitor:
    """Windowed drift statistics of one served model version.

    Args:
      card: the version's model card (without a ``reference`` nothing is monitored).
      window: examples per window (the most recent ones).
      threshold: PSI above which a task's outputs are reported as drifted.
      min_examples: examples a window needs before it can raise an alert.
      name: how log lines name the model version.
    """

    def __init__(self, card: dict, window: int = 1000, threshold: float = 0.2, min_examples: int = 200,
                 name: str = "model"):
        if window < 1:
            raise ValueError(f"Argument `window` must be >= 1. Received: window={window}")
        if not threshold > 0:
            raise ValueError(f"Argument `threshold` must be > 0. Received: threshold={threshold}")
        self.window, self.threshold, self.min_examples, self.name = window, threshold, min_examples, name
        self._lock = threading.Lock()
        self._types: dict[str, str] = {}
        self._windows: dict[tuple[str, str], _Window] = {}
        reference = (card or {}).get("reference") or {}
        for task, kinds in (reference.get("tasks") or {}).items():
            task_type = ((card.get("tasks") or {}).get(task) or {}).get("type")
            if not task_type:
                continue
            self._types[task] = task_type
            for kind in ("classes", "scores"):
                if kind in kinds:
                    self._windows[(task, kind)] = _Window(kind, kinds[kind], window)
        self.reference_split = reference.get("split")

    @property
    def enabled(self) -> bool:
        return bool(self._windows)

    def observe(self, outputs: dict[str, np.ndarray], examples: int) -> None:
        """Adds one response's outputs (``examples`` rows) to the windows; logs crossings."""
        if not self._windows:
            return
        with self._lock:
            for task, task_type in self._types.items():
                for kind, values in observations(task_type, task, outputs).items():
                    window = self._windows.get((task, kind))
                    if window is not None:
                        window.add(values, examples)
                        self._check(task, window)

    def _check(self, task: str, window: _Window) -> None:
        value = window.value()
        if window.examples >= self.min_examples and value > self.threshold and not window.alert:
            window.alert = True
            log.warning("drift alert: %s task %s: %s PSI %.3f > threshold %.3f over the last %d examples",
                        self.name, task, window.kind, value, self.threshold, window.examples)
        elif window.alert and value <= self.threshold:
            window.alert = False
            log.info("drift cleared: %s task %s: %s PSI %.3f <= %.3f", self.name, task, window.kind, value,
                     self.threshold)

    def report(self) -> dict:
        """``{task: {kind: {"statistic", "value", "examples", "alert"}}}``."""
        with self._lock:
            out: dict[str, dict] = {}
            for (task, kind), window in self._windows.items():
                out.setdefault(task, {})[kind] = {
                    "statistic": "psi" if kind == "classes" else "quantile_psi",
                    "value": window.value(),
                    "examples": window.examples,
                    "alert": window.alert,
                }
            return out
