"""Settings of a model server, checked when constructed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from mtlflow.serving.ab import ABRouter


class Limits(NamedTuple):
    """Size limits a request's declared shape is checked against before anything is decoded."""

    rows: int
    elements: int
    string_bytes: int


@dataclass(frozen=True)
class ServerOptions:
    """How a :class:`~mtlflow.serving.server.ModelServer` listens, batches, routes, limits and watches.

    Attributes:
      host: interface to bind; loopback unless set on purpose.
      rest_port / grpc_port: 0 picks a free port; a negative port turns that API off.
      enable_batching: run concurrent requests for one signature as one model call.
      max_batch_size: rows per model call when batching (also the per-request limit then).
      batch_timeout_micros: longest a request waits for a batch to fill.
      num_batch_threads: model calls that may run at once when batching.
      batch_deadline_seconds: longest a request waits for its batch's answer; past it the
        request fails with DEADLINE_EXCEEDED (gRPC) / 503 (REST) and is counted.
      poll_seconds: seconds between scans of the model base paths (0: once, at start).
      max_num_load_retries / load_retry_interval_seconds: a version that fails to load is
        tried again this many times, this long apart (TF Serving's ``max_num_load_retries``
        and ``load_retry_interval_micros``), by the polling scans.
      config_file / config_poll_seconds: the model config file to re-read every
        ``config_poll_seconds`` (0: never), adding, removing and re-configuring models.
      ab: weighted split between version labels for requests naming no version or label.
      drift_threshold / drift_window / drift_min_examples: see :class:`DriftMonitor`.
      max_body_bytes: larger REST bodies are refused with 413 on their declared length,
        before they are read; also the largest gRPC message received.
      max_response_bytes: the largest gRPC message sent.
      max_request_rows: rows per request without batching.
      max_request_elements: values per input tensor (rows × the other dimensions).
      max_string_bytes: bytes per string value.
      drain_seconds: on shutdown, how long in-flight requests may take to finish.
      grpc_workers: threads answering gRPC calls.
      grpc_max_concurrent_rpcs: gRPC calls in progress at once; more get RESOURCE_EXHAUSTED.
      rest_workers: threads decoding and running REST requests (connections are served
        by one event loop and cost no thread).
      rest_keepalive_seconds: an idle connection (between requests, or before its first
        request's headers are complete) is closed after this long.
      rest_body_timeout_seconds: a client that stalls this long while sending a body is cut off.
      request_log / request_log_sample_rate / request_log_inputs: see
        :class:`~mtlflow.serving.request_log.RequestLog`.
    """

    host: str = "127.0.0.1"
    rest_port: int = 8501
    grpc_port: int = 8500
    enable_batching: bool = False
    max_batch_size: int = 32
    batch_timeout_micros: int = 2000
    num_batch_threads: int = 2
    batch_deadline_seconds: float = 30.0
    poll_seconds: float = 2.0
    max_num_load_retries: int = 5
    load_retry_interval_seconds: float = 60.0
    config_file: Path | None = None
    config_poll_seconds: float = 0.0
    ab: ABRouter | None = None
    drift_threshold: float = 0.2
    drift_window: int = 1000
    drift_min_examples: int = 200
    max_body_bytes: int = 8 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    max_request_rows: int = 1024
    max_request_elements: int = 4 * 1024 * 1024
    max_string_bytes: int = 1024 * 1024
    drain_seconds: float = 30.0
    grpc_workers: int = 16
    grpc_max_concurrent_rpcs: int = 256
    rest_workers: int = 32
    rest_keepalive_seconds: float = 30.0
    rest_body_timeout_seconds: float = 30.0
    request_log: Path | None = None
    request_log_sample_rate: float = 1.0
    request_log_inputs: bool = False

    def __post_init__(self):
        checks = {
            "max_batch_size": self.max_batch_size >= 1,
            "batch_timeout_micros": self.batch_timeout_micros >= 0,
            "num_batch_threads": self.num_batch_threads >= 1,
            "batch_deadline_seconds": self.batch_deadline_seconds > 0,
            "poll_seconds": self.poll_seconds >= 0,
            "max_num_load_retries": self.max_num_load_retries >= 0,
            "load_retry_interval_seconds": self.load_retry_interval_seconds >= 0,
            "config_poll_seconds": self.config_poll_seconds >= 0,
            "drift_threshold": self.drift_threshold > 0,
            "drift_window": self.drift_window >= 1,
            "drift_min_examples": self.drift_min_examples >= 1,
            "max_body_bytes": self.max_body_bytes >= 1024,
            "max_response_bytes": self.max_response_bytes >= 1024,
            "max_request_rows": self.max_request_rows >= 1,
            "max_request_elements": self.max_request_elements >= 1,
            "max_string_bytes": self.max_string_bytes >= 1,
            "drain_seconds": self.drain_seconds >= 0,
            "grpc_workers": self.grpc_workers >= 1,
            "grpc_max_concurrent_rpcs": self.grpc_max_concurrent_rpcs >= 1,
            "rest_workers": self.rest_workers >= 1,
            "rest_keepalive_seconds": self.rest_keepalive_seconds > 0,
            "rest_body_timeout_seconds": self.rest_body_timeout_seconds > 0,
            "request_log_sample_rate": 0 <= self.request_log_sample_rate <= 1,
            "rest_port": self.rest_port < 65536,
            "grpc_port": self.grpc_port < 65536,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"Argument `{name}` is out of range. Received: {name}={getattr(self, name)!r}")
        if self.rest_port < 0 and self.grpc_port < 0:
            raise ValueError("Arguments `rest_port` and `grpc_port` are both off; enable at least one API")
        if self.config_poll_seconds > 0 and self.config_file is None:
            raise ValueError("Argument `config_poll_seconds` needs `config_file` (the file to re-read)")

    @property
    def max_rows(self) -> int:
        """Rows one request may carry."""
        return self.max_batch_size if self.enable_batching else self.max_request_rows

    @property
    def limits(self) -> Limits:
        return Limits(self.max_rows, self.max_request_elements, self.max_string_bytes)
