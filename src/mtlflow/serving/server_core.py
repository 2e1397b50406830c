"""What the REST and gRPC front ends share: models, routing, running, metrics and drift.

The front ends translate their wire formats; the core resolves a request to one loaded
version (a version, a label, the A/B split, or the latest), checks the inputs, runs the
signature (through the :class:`~mtlflow.serving.batching.Batcher` when batching is on),
feeds the outputs to the version's drift monitor, keeps the metrics and the sampled
request log, and applies model config reloads (models added, removed, re-configured
while serving). Listeners (the gRPC health service) hear when a model's set of
available versions changes.
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
from mtlflow.serving.metrics import ServingMetrics
from mtlflow.serving.model_manager import ModelManager
from mtlflow.serving.options import ServerOptions
from mtlflow.serving.request_log import RequestLog
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
        self._loader = loader
        self._listeners: list = []
        self._inflight = 0
        self._inflight_lock = threading.Condition()
        self._reload_lock = threading.Lock()
        self.metrics = ServingMetrics(self)
        self.managers: dict[str, ModelManager] = {m.name: self._manager(m) for m in models}  # replaced, not mutated
        self.configs: dict[str, ModelConfig] = {m.name: m for m in models}
        self.batcher = Batcher(options.max_batch_size, options.batch_timeout_micros, options.num_batch_threads,
                               on_batch=self._on_batch, deadline_seconds=options.batch_deadline_seconds,
                               on_deadline=self._on_deadline) if options.enable_batching else None
        self.request_log = RequestLog(options.request_log, options.request_log_sample_rate,
                                      options.request_log_inputs) if options.request_log else None

    def _manager(self, config: ModelConfig) -> ModelManager:
        o = self.options
        return ModelManager(config.name, config.base_path, config.policy, config.labels, o.poll_seconds,
                            on_load=self._attach_monitor, loader=self._loader, load_retries=o.max_num_load_retries,
                            retry_interval=o.load_retry_interval_seconds, on_change=self._changed,
                            on_load_failure=lambda m: self.metrics.load_failures.labels(m.name).inc())

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> None:
        for manager in self.managers.values():
            manager.start()
            self._changed(manager)

    def stop(self) -> None:
        for manager in self.managers.values():
            manager.stop()
        if self.batcher is not None:
            self.batcher.stop()
        if self.request_log is not None:
            self.request_log.close()

    def add_listener(self, listener) -> None:
        """``listener(name, serving: bool)`` hears whether each model has an available version
        (after every change, and ``serving=False`` when a model is removed)."""
        self._listeners.append(listener)
        for name, manager in self.managers.items():
            listener(name, bool(manager.available))

    def _changed(self, manager: ModelManager) -> None:
        if self.managers.get(manager.name) is not manager:
            return  # a manager being replaced or not yet installed
        for listener in self._listeners:
            listener(manager.name, bool(manager.available))

    def reload(self, models: list[ModelConfig]) -> dict[str, list[str]]:
        """Serves exactly ``models`` from now on: adds, removes and re-configures models.

        A model whose base path is unchanged keeps its loaded versions (its policy and labels
        are applied in place); a new or moved model is loaded before it is routed to.
        Returns ``{"added": [...], "removed": [...], "changed": [...]}``.
        """
        with self._reload_lock:
            old = self.managers
            wanted = {m.name: m for m in models}
            managers, added, changed = {}, [], []
            for name, config in wanted.items():
                current, before = old.get(name), self.configs.get(name)
                if current is not None and before is not None and before.base_path == config.base_path:
                    if (before.policy, before.labels) != (config.policy, config.labels):
                        current.reconfigure(config.policy, config.labels)
                        changed.append(name)
                    managers[name] = current
                else:
                    manager = self._manager(config)
                    manager.start()  # loads its versions before requests can reach it
                    managers[name] = manager
                    (changed if current is not None else added).append(name)
            removed = sorted(set(old) - set(wanted))
            self.managers = managers
            self.configs = dict(wanted)
            for name, manager in old.items():
                if managers.get(name) is not manager:
                    manager.stop()
            for name in removed:
                for listener in self._listeners:
                    listener(name, False)
            for name in added + changed:
                self._changed(managers[name])
        summary = {"added": sorted(added), "removed": removed, "changed": sorted(changed)}
        if any(summary.values()):
            log.info("model config reloaded: %s", "; ".join(f"{k} {', '.join(v)}" for k, v in summary.items() if v))
        return summary

    @property
    def inflight_count(self) -> int:
        return self._inflight

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
        rows = check_inputs(signature, inputs, self.options.max_rows, self.options.max_request_elements)
        if self.batcher is not None and signature.batchable:
            key = (servable.name, servable.version, id(servable), signature.name,
                   tuple((k, v.shape[1:]) for k, v in sorted(inputs.items())))
            outputs = self.batcher.run(key, inputs, rows, lambda x: servable.run(signature.name, x),
                                       signature.padding, arrival)
        else:
            if arrival is not None:
                arrival.done()
            outputs = servable.run(signature.name, inputs)
            self.metrics.batch_size.labels(servable.name, str(servable.version), signature.name).observe(rows)
        monitor = getattr(servable, "drift", None)
        if monitor is not None:
            monitor.observe(outputs, rows)
        return outputs

    def _on_batch(self, key: tuple, rows: int) -> None:
        self.metrics.batch_size.labels(key[0], str(key[1]), key[3]).observe(rows)

    def _on_deadline(self, key: tuple) -> None:
        self.metrics.deadline_exceeded.labels(key[0]).inc()
        log.warning("model %s version %s: a request missed the batch deadline (%gs)", key[0], key[1],
                    self.options.batch_deadline_seconds)

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

    # ---- metrics and the request log -----------------------------------------------------
    def record(self, api: str, model: str, version, signature: str, status: str, seconds: float,
               arm: str | None = None, inputs: dict[str, np.ndarray] | None = None) -> None:
        """Counts one answered request (``version`` "" when it was not resolved) and logs it if sampled.

        A model name that is not served is counted as ``(unknown)``, so clients cannot grow
        the number of time series.
        """
        model = model if model in self.managers else "(unknown)"
        labels = (api, model, str(version or ""), signature, status)
        m = self.metrics
        m.requests.labels(*labels).inc()
        m.latency.labels(*labels).observe(seconds)
        if arm is not None:
            m.ab_requests.labels(model, arm, str(version or ""), status).inc()
            m.ab_latency.labels(model, arm).observe(seconds)
        if self.request_log is not None and self.request_log.sampled():
            self.request_log.write(api=api, model=model, version=version, signature=signature, seconds=seconds,
                                   status=status, inputs=inputs)

    def disconnected(self, api: str) -> None:
        """Counts a client that hung up before its answer was sent."""
        self.metrics.disconnects.labels(api).inc()


class _NoArrival:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


_NO_ARRIVAL = _NoArrival()
