"""Settings of a model server, checked when constructed."""

from __future__ import annotations

from dataclasses import dataclass

from mtlflow.serving.ab import ABRouter


@dataclass(frozen=True)
class ServerOptions:
    """How a :class:`~mtlflow.serving.server.ModelServer` listens, batches, routes and watches.

    Attributes:
      host: interface to bind; loopback unless set on purpose.
      rest_port / grpc_port: 0 picks a free port; a negative port turns that API off.
      enable_batching: run concurrent requests for one signature as one model call.
      max_batch_size: rows per model call when batching (also the per-request limit then).
      batch_timeout_micros: longest a request waits for a batch to fill.
      num_batch_threads: model calls that may run at once when batching.
      poll_seconds: seconds between scans of the model base paths (0: once, at start).
      ab: weighted split between version labels for requests naming no version or label.
      drift_threshold / drift_window / drift_min_examples: see :class:`DriftMonitor`.
      max_body_bytes: larger request bodies are refused with 413 (gRPC: message size).
      max_request_rows: rows per request without batching.
      drain_seconds: on shutdown, how long in-flight requests may take to finish.
      grpc_workers: threads answering gRPC calls.
    """

    host: str = "127.0.0.1"
    rest_port: int = 8501
    grpc_port: int = 8500
    enable_batching: bool = False
    max_batch_size: int = 32
    batch_timeout_micros: int = 2000
    num_batch_threads: int = 2
    poll_seconds: float = 2.0
    ab: ABRouter | None = None
    drift_threshold: float = 0.2
    drift_window: int = 1000
    drift_min_examples: int = 200
    max_body_bytes: int = 8 * 1024 * 1024
    max_request_rows: int = 1024
    drain_seconds: float = 30.0
    grpc_workers: int = 16

    def __post_init__(self):
        checks = {
            "max_batch_size": self.max_batch_size >= 1,
            "batch_timeout_micros": self.batch_timeout_micros >= 0,
            "num_batch_threads": self.num_batch_threads >= 1,
            "poll_seconds": self.poll_seconds >= 0,
            "drift_threshold": self.drift_threshold > 0,
            "drift_window": self.drift_window >= 1,
            "drift_min_examples": self.drift_min_examples >= 1,
            "max_body_bytes": self.max_body_bytes >= 1024,
            "max_request_rows": self.max_request_rows >= 1,
            "drain_seconds": self.drain_seconds >= 0,
            "grpc_workers": self.grpc_workers >= 1,
            "rest_port": self.rest_port < 65536,
            "grpc_port": self.grpc_port < 65536,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"Argument `{name}` is out of range. Received: {name}={getattr(self, name)!r}")
        if self.rest_port < 0 and self.grpc_port < 0:
            raise ValueError("Arguments `rest_port` and `grpc_port` are both off; enable at least one API")

    @property
    def max_rows(self) -> int:
        """Rows one request may carry."""
        return self.max_batch_size if self.enable_batching else self.max_request_rows
