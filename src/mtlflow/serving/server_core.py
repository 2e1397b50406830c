"""What the REST and gRPC front ends share: models, routing, running, metrics and drift.

The front ends translate their wire formats; the core resolves a request to one loaded
version (a version, a label, the A/B split, or the latest), checks the inputs, runs the
signature (through the :class:`~mtlflow.serving.batching.Batcher` when batching is on),
feeds the outputs to the version's drift monitor, and keeps the metrics.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np

from mtlflow.serving.batching import Batcher
from mtlflow.serving.config_file import ModelConfig
from mtlflow.serving.drift import DriftMonitor
from mtlflow.serving.errors import ServingError, not_found
from mtlflow.serving.metrics import BATCH_BUCKETS, Registry
from mtlflow.serving.model_manager import ModelManager
from mtlflow.serving.options import ServerOptions
from mtlflow.serving.servable import Servable, Signature, check_inputs

log = logging.getLogger("mtlflow.serving")

STATE_NAMES = ("LOADING", "AVAILABLE", "UNLOADING", "END")


class Route(NamedTuple):
    """The version a request was routed to, and the A/B arm that chose it (or None)."""

    servable: Servable
    arm: str | None


class ServerCore:
    """Served models and the shared request path.

    Args:
      models: what to serve (see :mod:`mtlflow.serving.config_file`).
      options: server settings.
      loader: how versions are loaded (default :meth:`Servable.load`).
    """

    def __init__(self, models: list[ModelConfig], options: ServerOptions = ServerOptions(), loader=Servable.load):
        self.options = options
        self.metrics = Registry()
        self._init_metrics()
        self.managers: dict[str, ModelManager] = {
            m.name: ModelManager(m.name, m.base_path, m.policy, m.labels, options.poll_seconds,
                                 on_load=self._attach_monitor, loader=loader)
            for m in models
        }
        self.batcher = Batcher(options.max_batch_size, options.batch_timeout_micros, options.num_batch_threads,
                               on_batch=self._on_batch) if options.enable_batching else None
        self._inflight = 0
        self._inflight_lock = threading.Condition()

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        for manager in self.managers.values():
            manager.start()

    def stop(self) -> None:
        for manager in self.managers.values():
            manager.stop()
        if self.batcher is not None:
            self.batcher.stop()

    @contextmanager
    def inflight(self):
        """Counts a request as in flight (shutdown waits for the count to reach zero)."""
        with self._inflight_lock:
            self._inflight += 1
        try:
            yield
        finally:
            with self._inflight_lock:
                self._inflight -= 1
                self._inflight_lock.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Waits until no request is in flight; False if ``timeout`` passed first."""
        with self._inflight_lock:
            return self._inflight_lock.wait_for(lambda: self._inflight == 0, timeout)

    # ---- routing ----------------------------------------------------------------------
    def manager(self, name: str) -> ModelManager:
        manager = self.managers.get(name)
        if manager is None:
            raise not_found(f"model {name!r} is not served (models: {', '.join(sorted(self.managers))})")
        return manager

    def route(self, name: str, version: int | None = None, label: str | None = None, key: str | None = None) -> Route:
        """The servable for a request; the A/B split applies when it names no version or label."""
        manager = self.manager(name)
        router = self.options.ab
        if version is None and not label and router is not None:
            arm = router.choose(key)
            try:
                return Route(manager.resolve(label=arm), arm)
            except ServingError as exc:
                log.debug("A/B arm %s unavailable (%s); using the latest version", arm, exc)
                return Route(manager.resolve(), "default")
        return Route(manager.resolve(version, label), None)

    def arriving(self):
        """Context a request holds while it is decoded (batches wait for it)."""
        return self.batcher.arriving() if self.batcher is not None else _NO_ARRIVAL

    # ---- running ----------------------------------------------------------------------
    def run(self, servable: Servable, signature: Signature, inputs: dict[str, np.ndarray],
            arrival=None) -> dict[str, np.ndarray]:
        """Checks ``inputs``, runs the signature (batched if enabled), observes drift."""
        rows = check_inputs(signature, inputs, self.options.max_rows)
        if self.batcher is not None and signature.batchable:
            key = (servable.name, servable.version, id(servable), signature.name,
                   tuple((k, v.shape[1:]) for k, v in sorted(inputs.items())))
            outputs = self.batcher.run(key, inputs, rows, lambda x: servable.run(signature.name, x),
                                       signature.padding, arrival)
        else:
            if arrival is not None:
                arrival.done()
            outputs = servable.run(signature.name, inputs)
            self._batch_size.observe((servable.name, str(servable.version), signature.name), rows)
        monitor = getattr(servable, "drift", None)
        if monitor is not None:
            monitor.observe(outputs, rows)
        return outputs

    def _on_batch(self, key: tuple, rows: int) -> None:
        self._batch_size.observe((key[0], str(key[1]), key[3]), rows)

    def _attach_monitor(self, servable: Servable) -> None:
        o = self.options
        servable.drift = DriftMonitor(servable.card, o.drift_window, o.drift_threshold, o.drift_min_examples,
                                      name=f"model {servable.name} version {servable.version}")

    # ---- drift --------------------------------------------------------------------------
    def drift(self, name: str, version: int | None = None, label: str | None = None) -> dict:
        """Drift report of the named version, or of every available version."""
        manager = self.manager(name)
        if version is not None or label:
            servables = [manager.resolve(version, label)]
        else:
            servables = [manager.available[v] for v in sorted(manager.available)]
        return {
            "model": name,
            "threshold": self.options.drift_threshold,
            "window": self.options.drift_window,
            "min_examples": self.options.drift_min_examples,
            "versions": {
                str(s.version): {
                    "reference": s.drift.reference_split if s.drift.enabled else None,
                    "tasks": s.drift.report(),
                } for s in servables
            },
        }

    # ---- metrics ------------------------------------------------------------------------
    def _init_metrics(self) -> None:
        r = self.metrics
        labels = ("api", "model", "version", "signature", "status")
        self._requests = r.counter("mtlflow_requests_total", "Requests answered.", labels)
        self._latency = r.histogram("mtlflow_request_latency_seconds", "Time from request to response.", labels)
        self._batch_size = r.histogram("mtlflow_batch_size", "Rows per model call.", ("model", "version", "signature"),
                                       BATCH_BUCKETS)
        self._ab_requests = r.counter("mtlflow_ab_requests_total", "Requests routed by the A/B split.",
                                      ("model", "arm", "version", "status"))
        self._ab_latency = r.histogram("mtlflow_ab_latency_seconds", "Latency per A/B arm.", ("model", "arm"))
        r.gauge("mtlflow_inflight_requests", "Requests being answered.", (), lambda: [((), self._inflight)])
        r.gauge("mtlflow_model_version_state", "1 for the state each model version is in.",
                ("model", "version", "state"), self._version_states)
        r.gauge("mtlflow_drift_psi", "Drift statistic of each task's recent outputs against the reference.",
                ("model", "version", "task", "kind"), lambda: self._drift_samples("value"))
        r.gauge("mtlflow_drift_window_examples", "Examples in each drift window.",
                ("model", "version", "task", "kind"), lambda: self._drift_samples("examples"))
        r.gauge("mtlflow_drift_alert", "1 while a drift statistic is above the threshold.",
                ("model", "version", "task", "kind"), lambda: self._drift_samples("alert"))
        r.gauge("mtlflow_drift_threshold", "The drift alert threshold.", (),
                lambda: [((), self.options.drift_threshold)])

    def record(self, api: str, model: str, version, signature: str, status: str, seconds: float,
               arm: str | None = None) -> None:
        """Counts one answered request (``version`` "" when it was not resolved).

        A model name that is not served is counted as ``(unknown)``, so clients cannot grow
        the number of time series.
        """
        model = model if model in self.managers else "(unknown)"
        labels = (api, model, str(version or ""), signature, status)
        self._requests.inc(labels)
        self._latency.observe(labels, seconds)
        if arm is not None:
            self._ab_requests.inc((model, arm, str(version or ""), status))
            self._ab_latency.observe((model, arm), seconds)

    def _version_states(self):
        for name, manager in list(self.managers.items()):
            for status in manager.status():
                yield (name, str(status.version), status.state), 1.0

    def _drift_samples(self, field: str):
        for name, manager in list(self.managers.items()):
            for version, servable in sorted(manager.available.items()):
                monitor = getattr(servable, "drift", None)
                if monitor is None:
                    continue
                for task, kinds in monitor.report().items():
                    for kind, entry in kinds.items():
                        yield (name, str(version), task, kind), float(entry[field])


class _NoArrival:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


_NO_ARRIVAL = _NoArrival()
