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
from mtlflow.serving.grpc_service import grpc_server
from mtlflow.serving.options import ServerOptions
from mtlflow.serving.rest import RestServer
from mtlflow.serving.servable import Servable
from mtlflow.serving.server_core import ServerCore

log = logging.getLogger("mtlflow.serving")


class ModelServer:
    """Serves ``models`` over REST and gRPC as ``options`` say.

    Args:
      models: the models (name, base path, version policy, labels).
      options: ports, batching, A/B split, drift and safety limits.
      loader: how versions are loaded (default :meth:`Servable.load`).
    """

    def __init__(self, models: list[ModelConfig], options: ServerOptions = ServerOptions(), loader=Servable.load):
        self.options = options
        self.core = ServerCore(models, options, loader)
        self._rest: RestServer | None = None
        self._rest_thread: threading.Thread | None = None
        self._grpc = None
        self.rest_port: int | None = None
        self.grpc_port: int | None = None
        self._stopped = threading.Event()

    def start(self) -> "ModelServer":
        """Loads the models' current versions, then opens the ports."""
        self.core.start()
        try:
            if self.options.rest_port >= 0:
                self._rest = RestServer((self.options.host, self.options.rest_port), self.core)
                self.rest_port = self._rest.server_address[1]
                self._rest_thread = self._rest.serve_in_thread()
            if self.options.grpc_port >= 0:
                self._grpc, self.grpc_port = grpc_server(self.core, self.options.host, self.options.grpc_port)
        except BaseException:
            self.stop(drain_seconds=0)
            raise
        return self

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

        Returns True if every in-flight request finished in time.
        """
        if self._stopped.is_set():
            return True
        self._stopped.set()
        drain = self.options.drain_seconds if drain_seconds is None else drain_seconds
        grpc_done = None
        if self._rest is not None:
            self._rest.draining = True
            self._rest.shutdown()
            self._rest.server_close()
        if self._grpc is not None:
            grpc_done = self._grpc.stop(grace=drain)
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
