"""The model server: the core, its REST and gRPC front ends, start and graceful stop.

Example::

    from mtlflow.serving import ModelConfig, ModelServer, ServerOptions

    server = ModelServer([ModelConfig("nlu", "runs/demo/export")], ServerOptions(rest_port=0, grpc_port=0))
    server.start()
    print(server.rest_url)             # e.g. http://127.0.0.1:40123
    ...
    server.stop()                      # drains in-flight requests first
"""

from __future__ import annotations

import logging
import threading

from mtlflow.serving.config_file import ModelConfig
from mtlflow.serving.config_watcher import ConfigWatcher
from mtlflow.serving.grpc_service import GrpcFrontEnd
from mtlflow.serving.options import ServerOptions
from mtlflow.serving.rest import RestServer
from mtlflow.serving.servable import Servable
from mtlflow.serving.server_core import ServerCore

log = logging.getLogger("mtlflow.serving")


class ModelServer:
    """Serves ``models`` over REST and gRPC as ``options`` say.

    Args:
      models: the models (name, base path, version policy, labels).
      options: ports, batching, A/B split, drift, limits, logging and config polling.
      loader: how versions are loaded (default :meth:`Servable.load`).
    """

    def __init__(self, models: list[ModelConfig], options: ServerOptions = ServerOptions(), loader=Servable.load):
        self.options = options
        self.core = ServerCore(models, options, loader)
        self._rest: RestServer | None = None
        self._grpc: GrpcFrontEnd | None = None
        self._watcher: ConfigWatcher | None = None
        self.rest_port: int | None = None
        self.grpc_port: int | None = None
        self._stopped = threading.Event()

    def start(self) -> "ModelServer":
        """Loads the models' current versions, then opens the ports."""
        self.core.start()
        try:
            if self.options.rest_port >= 0:
                self._rest = RestServer(self.core, self.options.host, self.options.rest_port)
                self.rest_port = self._rest.port
            if self.options.grpc_port >= 0:
                self._grpc = GrpcFrontEnd(self.core, self.options.host, self.options.grpc_port)
                self.grpc_port = self._grpc.port
            if self.options.config_file is not None and self.options.config_poll_seconds > 0:
                self._watcher = ConfigWatcher(self.core, self.options.config_file,
                                              self.options.config_poll_seconds).start()
        except BaseException:
            self.stop(drain_seconds=0)
            raise
        return self

    @property
    def health(self):
        """The gRPC health servicer (None without gRPC)."""
        return self._grpc.health if self._grpc is not None else None

    @property
    def rest_url(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"http://{host}:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        host = f"[{self.options.host}]" if ":" in self.options.host else self.options.host
        return f"{host}:{self.grpc_port}"

    def stop(self, drain_seconds: float | None = None) -> bool:
        """Stops taking requests, lets in-flight ones finish (``drain_seconds`` at most).

        The gRPC health service reports NOT_SERVING first, so balancers stop sending.
        Returns True if every in-flight request finished in time.
        """
        if self._stopped.is_set():
            return True
        self._stopped.set()
        drain = self.options.drain_seconds if drain_seconds is None else drain_seconds
        grpc_done = None
        if self._watcher is not None:
            self._watcher.stop()
        if self._grpc is not None:
            grpc_done = self._grpc.stop(grace=drain)
        if self._rest is not None:
            self._rest.stop(drain)
        drained = self.core.wait_idle(drain)
        if grpc_done is not None:
            grpc_done.wait(drain + 1)
        self.core.stop()
        if not drained:
            log.warning("shutdown: requests still in flight after %.0fs were dropped", drain)
        return drained

    def __enter__(self) -> "ModelServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
