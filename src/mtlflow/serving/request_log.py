"""Sampled request logging: one JSON line per logged request, appended to a file.

Each line holds ``time`` (UTC, ISO 8601), ``api``, ``model``, ``version``, ``signature``,
``latency_ms`` and ``status`` (the canonical code, ``OK`` on success); with
``inputs=True`` also the request's decoded ``inputs`` (strings as UTF-8 text, bytes that
are not text as ``{"b64": …}``). A request is logged with probability ``sample_rate``,
independently of the others, so the log's counts estimate traffic divided by the rate.

Example::

    log = RequestLog("requests.jsonl", sample_rate=0.1)
    log.write(api="rest", model="nlu", version=1, signature="serving_default",
              seconds=0.012, status="OK")
    log.close()
"""

from __future__ import annotations

import base64
import json
import random
import threading
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


class RequestLog:
    """Appends sampled request records to ``path`` (created with its parent directories).

    Args:
      path: the JSON-lines file.
      sample_rate: probability in [0, 1] that a request is logged.
      inputs: also log each logged request's inputs.
    """

    def __init__(self, path: str | Path, sample_rate: float = 1.0, inputs: bool = False):
        if not 0 <= sample_rate <= 1:
            raise ValueError(f"Argument `sample_rate` must be in [0, 1]. Received: sample_rate={sample_rate}")
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.inputs = inputs
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)  # a line at a time
        self._lock = threading.Lock()

    def sampled(self) -> bool:
        return self.sample_rate >= 1 or random.random() < self.sample_rate

    def write(self, *, api: str, model: str, version, signature: str, seconds: float, status: str,
              inputs: dict[str, np.ndarray] | None = None) -> None:
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "api": api, "model": model,
                  "version": int(version) if str(version).isdigit() else None, "signature": signature,
                  "latency_ms": round(seconds * 1e3, 3), "status": status}
        if self.inputs and inputs is not None:
            record["inputs"] = {k: _json_value(v) for k, v in inputs.items()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if not self._file.closed:
                self._file.write(line)

    def close(self) -> None:
        with self._lock:
            self._file.close()


def _json_value(array: np.ndarray):
    if array.dtype == object or array.dtype.kind == "S":
        flat = np.empty(array.size, dtype=object)
        flat[:] = [_text(v) for v in array.reshape(-1)]
        return flat.reshape(array.shape).tolist()
    return array.tolist()


def _text(value):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return str(value)
