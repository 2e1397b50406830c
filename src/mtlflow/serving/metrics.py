"""The server's Prometheus metrics, kept with the official client (``prometheus-client``).

Events are counted as they happen (requests, latency, batch sizes, A/B arms, client
disconnects, deadline misses); what is a state rather than an event (versions, drift,
A/B arms, requests in flight) is read from the server when scraped, by collectors. The
metrics live in the server's own :class:`~prometheus_client.CollectorRegistry` (several
servers in one process do not mix) and are served at TF Serving's path,
``/monitoring/prometheus/metrics``, in the text exposition format.

Example::

    metrics = ServingMetrics(core)
    metrics.requests.labels("rest", "nlu", "1", "serving_default", "OK").inc()
    text = metrics.render()
"""

from __future__ import annotations

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes; Prometheus 2.x asks for it
REQUEST_LABELS = ("api", "model", "version", "signature", "status")

# A server's series are its label sets; `_created` timestamps would double them for nothing.
prometheus_client.disable_created_metrics()


class ServingMetrics:
    """The metrics of one server.

    Args:
      core: the :class:`~mtlflow.serving.server_core.ServerCore` the collectors read
        (``managers``, ``options``, ``inflight_count``).
    """

    def __init__(self, core):
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mtlflow_requests", "Requests answered.", REQUEST_LABELS, registry=registry)
        self.latency = Histogram("mtlflow_request_latency_seconds", "Time from request to response.",
                                 REQUEST_LABELS, buckets=LATENCY_BUCKETS, registry=registry)
        self.batch_size = Histogram("mtlflow_batch_size", "Rows per model call.", ("model", "version", "signature"),
                                    buckets=BATCH_BUCKETS, registry=registry)
        self.ab_requests = Counter("mtlflow_ab_requests", "Requests routed by the A/B split.",
                                   ("model", "arm", "version", "status"), registry=registry)
        self.ab_latency = Histogram("mtlflow_ab_latency_seconds", "Latency per A/B arm.", ("model", "arm"),
                                    buckets=LATENCY_BUCKETS, registry=registry)
        self.disconnects = Counter("mtlflow_client_disconnects", "Clients that hung up before their answer was sent.",
                                   ("api",), registry=registry)
        self.deadline_exceeded = Counter("mtlflow_batch_deadline_exceeded",
                                         "Requests that waited longer than the batch deadline for their answer.",
                                         ("model",), registry=registry)
        self.load_failures = Counter("mtlflow_version_load_failures", "Failed attempts to load a model version.",
                                     ("model",), registry=registry)
        registry.register(StateCollector(core))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StateCollector(Collector):
    """Gauges read from the server at scrape time: in flight, version states, drift, A/B arms."""

    def __init__(self, core):
        self.core = core

    def describe(self):
        return []  # samples depend on what is loaded: nothing to check at registration

    def collect(self):
        core = self.core
        inflight = GaugeMetricFamily("mtlflow_inflight_requests", "Requests being answered.")
        inflight.add_metric([], core.inflight_count)
        yield inflight

        states = GaugeMetricFamily("mtlflow_model_version_state", "1 for the state each model version is in.",
                                   labels=("model", "version", "state"))
        for name, manager in sorted(core.managers.items()):
            for status in manager.status():
                states.add_metric([name, str(status.version), status.state], 1.0)
        yield states

        yield from _drift_families(core)

        threshold = GaugeMetricFamily("mtlflow_drift_threshold", "The drift alert threshold.")
        threshold.add_metric([], core.options.drift_threshold)
        yield threshold

        router = core.options.ab
        if router is not None:
            arms = GaugeMetricFamily("mtlflow_ab_arm_weight",
                                     "Share of unpinned traffic each A/B arm receives, and the version it resolves to "
                                     "(\"\" when the arm's label points at no available version).",
                                     labels=("model", "arm", "version"))
            for name, manager in sorted(core.managers.items()):
                labels = manager.labels()
                for arm, weight in zip(router.arms, router.weights):
                    version = labels.get(arm)
                    arms.add_metric([name, arm, str(version) if version in manager.available else ""], weight)
            yield arms


def _drift_families(core):
    fields = {
        "value": ("mtlflow_drift_psi", "Drift statistic of each task's recent outputs against the reference."),
        "examples": ("mtlflow_drift_window_examples", "Examples in each drift window."),
        "alert": ("mtlflow_drift_alert", "1 while a drift statistic is above the threshold."),
    }
    families = {f: GaugeMetricFamily(n, h, labels=("model", "version", "task", "kind")) for f, (n, h) in fields.items()}
    for name, manager in sorted(core.managers.items()):
        for version, servable in sorted(manager.available.items()):
            monitor = getattr(servable, "drift", None)
            if monitor is None:
                continue
            for task, kinds in monitor.report().items():
                for kind, entry in kinds.items():
                    for field, family in families.items():
                        family.add_metric([name, str(version), task, kind], float(entry[field]))
    yield from families.values()
