"""The REST API, as TF Serving documents it, on the standard library's threading HTTP server.

Endpoints (``MODEL`` optionally followed by ``/versions/V`` or ``/labels/L``)::

    GET  /v1/models/MODEL                   status (GetModelStatusResponse as JSON)
    GET  /v1/models/MODEL/metadata          signature defs (GetModelMetadataResponse)
    POST /v1/models/MODEL:predict           {"instances": …} or {"inputs": …}
    POST /v1/models/MODEL:classify|regress  {"examples": [{feature: value}, …]}
    GET  /v1/models/MODEL/drift             mtlflow: drift statistics per task
    GET  /monitoring/prometheus/metrics     Prometheus text

Errors are ``{"error": "…"}`` with a 4xx status for anything the request got wrong. The
A/B key is the ``X-Mtlflow-Key`` header or the body's ``mtlflow_key``; responses name
the version that answered in ``X-Mtlflow-Model-Version`` (and the arm in ``X-Mtlflow-Arm``).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from mtlflow.serving import classification, json_codec, protos
from mtlflow.serving.errors import ServingError, invalid
from mtlflow.serving.server_core import ServerCore

log = logging.getLogger("mtlflow.serving")

_MODEL_PATH = re.compile(
    r"^/v1/models/(?P<name>[^/:]+)"
    r"(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
    r"(?:/(?P<resource>metadata|drift))?"
    r"(?::(?P<verb>predict|classify|regress))?$"
)
METRICS_PATH = "/monitoring/prometheus/metrics"


class RestServer(ThreadingHTTPServer):
    """The HTTP server; one thread per connection (keep-alive connections are reused)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], core: ServerCore):
        self.core = core
        self.draining = False
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2}, name="rest", daemon=True)
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server_version = "mtlflow-serving"
    timeout = 60  # seconds a connection may stall mid-request
    server: RestServer

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        log.debug("rest %s - %s", self.address_string(), format % args)

    # ---- responses --------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict | None = None, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        unread = not self._consumed and (self.headers.get("Content-Length", "0").strip() not in ("", "0")
                                         or self.headers.get("Transfer-Encoding"))
        if close or unread or self.server.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict, headers: dict | None = None, close: bool = False) -> None:
        self._send(status, json_codec.dumps(payload), headers=headers, close=close)

    def send_error(self, code, message=None, explain=None):
        """Malformed HTTP (the base class's errors) as JSON too."""
        self.close_connection = True
        self._consumed = True
        if not hasattr(self, "headers"):
            self.headers = {}
        try:
            self._json(int(code), {"error": message or HTTPStatus(code).phrase}, close=True)
        except OSError:
            pass

    # ---- dispatch -----------------------------------------------------------------------
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_PUT(self):
        self._handle("PUT")

    def do_DELETE(self):
        self._handle("DELETE")

    def do_HEAD(self):
        self._handle("GET")

    def _handle(self, method: str) -> None:
        self._consumed = False  # whether this request's body has been read
        if self.server.draining:
            self._json(503, {"error": "the server is shutting down"}, close=True)
            return
        with self.server.core.inflight():
            self._route(method)

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        if path == METRICS_PATH:
            if method != "GET":
                return self._json(405, {"error": f"{method} not allowed on {path}; use GET"})
            return self._send(200, self.server.core.metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8")
        match = _MODEL_PATH.match(path)
        if match is None:
            return self._json(404, {"error": f"no such endpoint: {method} {path}; see /v1/models/<name>[:predict]"})
        verb = match["verb"]
        if (method == "POST") != bool(verb) or (verb and match["resource"]) or method not in ("GET", "POST"):
            allowed = "POST" if verb else "GET"
            return self._json(405, {"error": f"{method} not allowed on {path}; use {allowed}"})
        name = unquote(match["name"])
        label = unquote(match["label"]) if match["label"] else None
        if verb:
            return self._post(verb, name, match["version"], label)
        started = time.perf_counter()
        try:
            version = _version(match["version"])
            core = self.server.core
            if match["resource"] == "metadata":
                payload = protos.metadata_json(core.manager(name).resolve(version, label))
            elif match["resource"] == "drift":
                payload = core.drift(name, version, label)
            else:
                payload = protos.to_dict(protos.status_response(core.manager(name).status(version, label)))
        except ServingError as exc:
            return self._json(exc.http_status, {"error": str(exc)})
        self._json(200, payload)
        log.debug("rest GET %s in %.1f ms", path, (time.perf_counter() - started) * 1e3)

    # ---- POST ---------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ServingError("send the body with a Content-Length (chunked bodies are not accepted)",
                               http_status=411)
        length = self.headers.get("Content-Length")
        if length is None:
            raise ServingError("a Content-Length header is required", http_status=411)
        try:
            length = int(length)
            if length < 0:
                raise ValueError
        except ValueError:
            raise invalid(f"invalid Content-Length {length!r}") from None
        limit = self.server.core.options.max_body_bytes
        if length > limit:
            raise ServingError(f"request body of {length} bytes exceeds the limit of {limit} bytes "
                               "(--max-body-bytes); split the batch", http_status=413)
        body = self.rfile.read(length)
        self._consumed = True
        if len(body) != length:
            raise invalid(f"the body ended after {len(body)} of {length} bytes")
        return body

    def _post(self, verb: str, name: str, version_text: str | None, label: str | None) -> None:
        core = self.server.core
        started = time.perf_counter()
        version, signature_name, arm, status = "", "", None, "OK"
        headers: dict[str, str] = {}
        try:
            with core.arriving() as arrival:
                body = self._read_body()
                payload = json_codec.parse_json(body)
                requested = payload.get("signature_name") or ""
                if not isinstance(requested, str):
                    raise invalid('"signature_name" must be a string')
                key = self.headers.get("X-Mtlflow-Key") or payload.get("mtlflow_key")
                if key is not None and not isinstance(key, (str, int)):
                    raise invalid('"mtlflow_key" must be a string')
                route = core.route(name, _version(version_text), label, str(key) if key is not None else None)
                servable, arm = route
                version = servable.version
                headers["X-Mtlflow-Model-Version"] = str(version)
                if arm is not None:
                    headers["X-Mtlflow-Arm"] = arm
                if verb == "predict":
                    signature = servable.signature(requested)
                    signature_name = signature.name
                    inputs, columnar = json_codec.predict_inputs(payload, signature)
                    outputs = core.run(servable, signature, inputs, arrival)
                    response = json_codec.predict_response(outputs, columnar)
                else:
                    response, signature_name = self._classify_or_regress(verb, servable, payload, requested, arrival)
        except ServingError as exc:
            status = exc.status
            self._json(exc.http_status, {"error": str(exc)}, headers)
        except Exception as exc:  # a bug: answer 500, keep serving
            status = "INTERNAL"
            log.exception("rest %s on model %s failed", verb, name)
            self._json(500, {"error": f"internal error: {type(exc).__name__}: {exc}"}, headers)
        else:
            self._json(200, response, headers)
        core.record("rest", name, version, signature_name or verb, status, time.perf_counter() - started, arm)

    def _classify_or_regress(self, verb, servable, payload, signature_name, arrival) -> tuple[dict, str]:
        kinds = classification.CLASSIFIERS if verb == "classify" else classification.REGRESSORS
        task, signature = classification.choose_task(servable, signature_name, kinds, verb)
        examples = payload.get("examples")
        context = payload.get("context")
        if not isinstance(examples, list) or (context is not None and not isinstance(context, dict)):
            raise invalid('expected "examples": [{feature: value}, …] and an optional "context" object')
        inputs = classification.example_inputs(examples, signature, context)
        outputs = self.server.core.run(servable, signature, inputs, arrival)
        if verb == "classify":
            return {"results": [[[label, score] for label, score in row]
                                for row in classification.classes(servable, task, outputs)]}, signature.name
        return {"results": classification.values(task, outputs)}, signature.name


def _version(text: str | None) -> int | None:
    if text is None:
        return None
    if not re.fullmatch(r"\d{1,18}", text):
        raise invalid(f"invalid version {text!r}: expected a non-negative integer")
    return int(text)

