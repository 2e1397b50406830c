"""One served model: its versions on disk, which are loaded, their labels, and hot swaps.

The manager polls ``base_path`` for version directories (``<base>/<N>/saved_model.pb``;
hidden staging directories and directories without ``saved_model.pb`` are never
loaded), asks the :class:`~mtlflow.serving.version_policy.VersionPolicy` which to serve,
loads the new ones **before** unloading the old ones, and swaps the table of loaded
versions in one assignment. A request holds the :class:`Servable` it resolved until it
is answered, so a swap never drops a request. A version that fails to load is reported
(state ``END`` with its error) and never displaces a version that works; like TF
Serving (``max_num_load_retries``, ``load_retry_interval_micros``) it is tried again by
the scans, ``load_retries`` times at most, ``retry_interval`` seconds apart — a version
copied in non-atomically (``saved_model.pb`` before its variables) is served once it is
complete — and, after that, again whenever its ``saved_model.pb`` changes.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple

import grpc

from mtlflow.export.saved_model import complete_versions
from mtlflow.serving.errors import ServingError, not_found
from mtlflow.serving.servable import Servable
from mtlflow.serving.version_policy import VersionPolicy

log = logging.getLogger("mtlflow.serving")

AUTO_LABELS = ("stable", "canary")


class _Failure(NamedTuple):
    mtime: float  # of the saved_model.pb that failed
    attempts: int
    next_attempt: float  # time.monotonic() when a retry is due


@dataclass
class VersionStatus:
    """A version's state as TF Serving reports it (``LOADING``, ``AVAILABLE``, ``UNLOADING``, ``END``)."""

    version: int
    state: str
    error_code: str = "OK"
    error_message: str = ""


class ModelManager:
    """Loads, labels and hot-swaps the versions of one model.

    Args:
      name: the model's name in requests.
      base_path: directory of numbered version directories.
      policy: which versions to serve (default: the latest one).
      labels: ``{label: version}``. Without any, ``canary`` follows the newest loaded
        version and ``stable`` the one before it (the newest, when only one is loaded).
      poll_seconds: seconds between scans of ``base_path``; 0 scans once, at start.
      on_load: called with each newly loaded :class:`Servable` before it takes requests.
      loader: ``(name, version, path) -> Servable`` (tests inject failures here).
      load_retries: further attempts after a failed load (0: none).
      retry_interval: seconds between attempts.
      on_change: called with the manager after the set of available versions changed.
      on_load_failure: called with the manager after each failed attempt (metrics).
    """

    def __init__(self, name: str, base_path: str | Path, policy: VersionPolicy = VersionPolicy(),
                 labels: dict[str, int] | None = None, poll_seconds: float = 2.0,
                 on_load: Callable[[Servable], None] | None = None, loader=Servable.load,
                 load_retries: int = 5, retry_interval: float = 60.0,
                 on_change: Callable[["ModelManager"], None] | None = None,
                 on_load_failure: Callable[["ModelManager"], None] | None = None):
        if poll_seconds < 0:
            raise ValueError(f"Argument `poll_seconds` must be >= 0. Received: poll_seconds={poll_seconds}")
        if load_retries < 0 or retry_interval < 0:
            raise ValueError(f"Arguments `load_retries` and `retry_interval` must be >= 0. "
                             f"Received: load_retries={load_retries}, retry_interval={retry_interval}")
        self.name = name
        self.base_path = Path(base_path)
        self.policy = policy
        self.explicit_labels = dict(labels or {})
        self.poll_seconds = poll_seconds
        self._on_load = on_load
        self._loader = loader
        self._available: dict[int, Servable] = {}  # replaced, never mutated: readers need no lock
        self._status: dict[int, VersionStatus] = {}
        self.load_retries = load_retries
        self.retry_interval = retry_interval
        self._on_change = on_change
        self._on_load_failure = on_load_failure
        self._failed: dict[int, _Failure] = {}
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        """Loads the versions the policy wants now, then keeps polling in a thread."""
        self.poll()
        if self.poll_seconds > 0:
            self._thread = threading.Thread(target=self._poll_loop, name=f"poll-{self.name}", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def reconfigure(self, policy: VersionPolicy, labels: dict[str, int]) -> None:
        """Applies a new version policy and labels at once (a config reload), then scans."""
        with self._poll_lock:
            self.policy = policy
            self.explicit_labels = dict(labels)
        self.poll()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll()
            except Exception:  # a scan that fails (e.g. the directory vanished) is retried next time
                log.exception("model %s: polling %s failed", self.name, self.base_path)

    # ---- polling --------------------------------------------------------------------
    def poll(self) -> None:
        """One scan: load the versions the policy now wants, then unload the others."""
        with self._poll_lock:
            before = set(self._available)
            on_disk = complete_versions(self.base_path) if self.base_path.is_dir() else []
            tried: set[int] = set()
            while True:
                candidates = [v for v in on_disk if not self._still_failed(v) or v in self._available]
                wanted = self.policy.select(candidates)
                new = [v for v in reversed(wanted) if v not in self._available and v not in tried]
                if not new:
                    break
                for version in new:
                    tried.add(version)
                    self._load(version)
            wanted = self.policy.select([v for v in on_disk if v in self._available])
            for version in sorted(set(self._available) - set(wanted)):
                self._unload(version)
            changed = set(self._available) != before
        if changed and self._on_change is not None:
            self._on_change(self)

    def _still_failed(self, version: int) -> bool:
        """Whether a version that failed is not to be tried now (no retry due, file unchanged)."""
        failure = self._failed.get(version)
        if failure is None:
            return False
        try:
            mtime = (self.base_path / str(version) / "saved_model.pb").stat().st_mtime
        except OSError:
            return True
        if mtime != failure.mtime:
            del self._failed[version]  # rewritten: a fresh start
            return False
        return failure.attempts > self.load_retries or time.monotonic() < failure.next_attempt

    def _load(self, version: int) -> None:
        path = self.base_path / str(version)
        self._status[version] = VersionStatus(version, "LOADING")
        began = time.perf_counter()
        try:
            servable = self._loader(self.name, version, path)
            if self._on_load is not None:
                self._on_load(servable)
        except Exception as exc:  # any failure: report it, keep serving what works
            try:
                mtime = (path / "saved_model.pb").stat().st_mtime
            except OSError:
                mtime = -1.0
            previous = self._failed.get(version)
            attempts = previous.attempts + 1 if previous is not None and previous.mtime == mtime else 1
            self._failed[version] = _Failure(mtime, attempts, time.monotonic() + self.retry_interval)
            left = self.load_retries + 1 - attempts
            plan = (f"retry {attempts} of {self.load_retries} in {self.retry_interval:g}s" if left > 0
                    else "no retries left; rewrite its saved_model.pb to try again")
            message = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:500]
            self._status[version] = VersionStatus(version, "END", "UNKNOWN", f"failed to load {path}: {message}")
            log.error("model %s: version %d failed to load (attempt %d; %s): %s", self.name, version, attempts,
                      plan, message)
            if self._on_load_failure is not None:
                self._on_load_failure(self)
            return
        self._failed.pop(version, None)
        self._available = {**self._available, version: servable}
        self._status[version] = VersionStatus(version, "AVAILABLE")
        log.info("model %s: version %d loaded in %.1fs (%s)", self.name, version, time.perf_counter() - began, path)

    def _unload(self, version: int) -> None:
        self._status[version] = VersionStatus(version, "UNLOADING")
        self._available = {v: s for v, s in self._available.items() if v != version}
        self._status[version] = VersionStatus(version, "END")
        log.info("model %s: version %d unloaded (policy: %s)", self.name, version, self.policy.describe())

    # ---- queries --------------------------------------------------------------------
    @property
    def available(self) -> dict[int, Servable]:
        return self._available

    def labels(self) -> dict[str, int]:
        """``{label: version}``: the explicit labels, or the automatic ``stable``/``canary``."""
        if self.explicit_labels:
            return dict(self.explicit_labels)
        versions = sorted(self._available)
        if not versions:
            return {}
        return {"stable": versions[-2] if len(versions) > 1 else versions[-1], "canary": versions[-1]}

    def resolve(self, version: int | None = None, label: str | None = None) -> Servable:
        """The servable a request names: a version, a label, or (neither) the latest one."""
        available = self._available
        if label:
            labels = self.labels()
            if label not in labels:
                known = ", ".join(sorted(labels)) or "none"
                raise not_found(f"model {self.name!r} has no version label {label!r} (labels: {known})")
            version = labels[label]
            if version not in available:
                raise not_found(f"label {label!r} of model {self.name!r} points at version {version}, "
                                f"which is not available (available: {_listing(available)})")
            return available[version]
        if version is not None:
            if version not in available:
                raise not_found(f"model {self.name!r} has no available version {version} "
                                f"(available: {_listing(available)})")
            return available[version]
        if not available:
            raise ServingError(f"model {self.name!r} has no available version yet "
                               f"(looking in {self.base_path})", grpc.StatusCode.NOT_FOUND)
        return available[max(available)]

    def status(self, version: int | None = None, label: str | None = None) -> list[VersionStatus]:
        """Status of every version seen (or of the one named), newest first."""
        if label:
            version = self.resolve(label=label).version
        if version is not None:
            if version not in self._status:
                raise not_found(f"model {self.name!r} has no version {version} (versions: {_listing(self._status)})")
            return [self._status[version]]
        return [self._status[v] for v in sorted(self._status, reverse=True)]


def _listing(versions) -> str:
    return ", ".join(map(str, sorted(versions))) or "none"
