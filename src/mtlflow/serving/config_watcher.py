"""Re-reading the model config file while serving (``--model-config-file-poll-wait-seconds``).

Every ``poll_seconds`` the file is read; when its text changed, it is parsed and applied
with :meth:`ServerCore.reload` (models added, removed, their policies and labels
changed), as TF Serving does. A file that does not parse is reported and ignored: the
server keeps serving the last good config, and tries again when the file changes.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from mtlflow.errors import MtlflowError
from mtlflow.serving.config_file import parse_model_config

log = logging.getLogger("mtlflow.serving")


class ConfigWatcher:
    """Polls ``path`` and reloads ``core`` when the file's text changes.

    Args:
      core: the :class:`~mtlflow.serving.server_core.ServerCore` to reconfigure.
      path: the ``ModelServerConfig`` text file the server started from.
      poll_seconds: seconds between reads (> 0).
    """

    def __init__(self, core, path: str | Path, poll_seconds: float):
        if not poll_seconds > 0:
            raise ValueError(f"Argument `poll_seconds` must be > 0. Received: poll_seconds={poll_seconds}")
        self.core = core
        self.path = Path(path)
        self.poll_seconds = poll_seconds
        self._seen = self._read()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="config-watcher", daemon=True)

    def start(self) -> "ConfigWatcher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _read(self) -> str | None:
        try:
            return self.path.read_text("utf-8")
        except OSError as exc:
            log.error("model config %s: cannot read it (%s); keeping the current models", self.path, exc.strerror)
            return None

    def check(self) -> dict | None:
        """One look at the file; returns the reload summary if it changed and applied."""
        text = self._read()
        if text is None or text == self._seen:
            return None
        self._seen = text
        try:
            models = parse_model_config(text, str(self.path), self.path.parent)
        except MtlflowError as exc:
            log.error("model config %s changed but is invalid, keeping the current models: %s", self.path, exc)
            return None
        return self.core.reload(models)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.check()
            except Exception:  # never stop watching
                log.exception("model config %s: reload failed", self.path)
