"""Counters, gauges and histograms rendered in the Prometheus text exposition format (0.0.4).

Example::

    registry = Registry()
    requests = registry.counter("mtlflow_requests_total", "Requests.", ("model", "status"))
    requests.inc(("nlu", "OK"))
    print(registry.render())
"""

from __future__ import annotations

import bisect
import math
import threading
from typing import Callable, Iterable

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


def _escape(value: str) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: tuple[str, ...], values: tuple, extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class _Metric:
    kind = ""

    def __init__(self, name: str, help: str, labels: tuple[str, ...]):
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name, help, labels=()):
        super().__init__(name, help, labels)
        self._values: dict[tuple, float] = {}

    def inc(self, labels: tuple = (), amount: float = 1.0) -> None:
        with self._lock:
            self._values[labels] = self._values.get(labels, 0.0) + amount

    def value(self, labels: tuple = ()) -> float:
        return self._values.get(labels, 0.0)

    def render(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return self.header() + [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in items]


class Gauge(_Metric):
    """A gauge whose samples come from ``collect()`` at scrape time."""

    kind = "gauge"

    def __init__(self, name, help, labels=(), collect: Callable[[], Iterable[tuple[tuple, float]]] | None = None):
        super().__init__(name, help, labels)
        self._collect = collect
        self._values: dict[tuple, float] = {}

    def set(self, labels: tuple, value: float) -> None:
        with self._lock:
            self._values[labels] = float(value)

    def render(self) -> list[str]:
        with self._lock:
            items = dict(self._values)
        if self._collect is not None:
            items.update(self._collect())
        return self.header() + [f"{self.name}{_labels(self.label_names, k)} {_number(v)}" for k, v in sorted(items.items())]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(self, name, help, labels=(), buckets=LATENCY_BUCKETS):
        super().__init__(name, help, labels)
        self.buckets = tuple(sorted(buckets))
        self._series: dict[tuple, list] = {}  # labels -> [bucket counts..., sum, count]

    def observe(self, labels: tuple, value: float) -> None:
        index = bisect.bisect_left(self.buckets, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = [0] * (len(self.buckets) + 1) + [0.0, 0]
            series[index] += 1
            series[-2] += value
            series[-1] += 1

    def count(self, labels: tuple) -> int:
        series = self._series.get(labels)
        return series[-1] if series else 0

    def render(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._series.items())
        lines = self.header()
        for labels, series in items:
            cumulative = 0
            for bound, count in zip(self.buckets + (math.inf,), series):
                cumulative += count
                le = 'le="' + ("+Inf" if math.isinf(bound) else _number(bound)) + '"'
                lines.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {cumulative}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_number(series[-2])}")
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {series[-1]}")
        return lines


class Registry:
    """The metrics a server exposes, in registration order."""

    def __init__(self):
        self._metrics: list[_Metric] = []

    def _add(self, metric):
        self._metrics.append(metric)
        return metric

    def counter(self, name: str, help: str, labels: tuple[str, ...] = ()) -> Counter:
        return self._add(Counter(name, help, labels))

    def gauge(self, name: str, help: str, labels: tuple[str, ...] = (), collect=None) -> Gauge:
        return self._add(Gauge(name, help, labels, collect))

    def histogram(self, name: str, help: str, labels: tuple[str, ...] = (), buckets=LATENCY_BUCKETS) -> Histogram:
        return self._add(Histogram(name, help, labels, buckets))

    def render(self) -> str:
        return "\n".join(line for metric in self._metrics for line in metric.render()) + "\n"
