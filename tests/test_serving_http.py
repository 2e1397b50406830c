"""The REST front end's HTTP behaviour on raw sockets: chunked bodies, limits before reading,
methods, idle connections without threads, slow and vanishing clients."""

import json
import logging
import socket
import threading
import time

import pytest
import requests

from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import make_base

LIMIT = 64 * 1024


@pytest.fixture(scope="module")
def server(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("http") / "m")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, max_body_bytes=LIMIT, rest_workers=4,
                            rest_keepalive_seconds=60, rest_body_timeout_seconds=1.0)
    with ModelServer([ModelConfig("m", base)], options) as server:
        yield server


def connect(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.rest_port), timeout=10)


def read_response(sock: socket.socket) -> tuple[int, dict, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def metric(server, name: str) -> float:
    text = requests.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name))


def test_chunked_body_is_read_and_answered(server):
    body = json.dumps({"instances": ["alpha xa xb town", "beta w2"]}).encode()
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    with connect(server) as sock:
        request = b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        request += b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
        sock.sendall(request)
        status, headers, answer = read_response(sock)
    assert status == 200, answer
    assert [p["topic_label"] for p in json.loads(answer)["predictions"]] == ["alpha", "beta"]


def test_oversized_body_is_refused_on_its_declared_length_before_it_is_read(server):
    with connect(server) as sock:
        sock.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n")  # 100 MiB announced, none of it sent
        began = time.perf_counter()
        status, headers, body = read_response(sock)
        assert time.perf_counter() - began < 5
    assert status == 413 and headers.get("connection") == "close"
    assert "104857600 bytes exceeds the limit of 65536" in json.loads(body)["error"]
    assert requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha w1"]}, timeout=30).ok


@pytest.mark.parametrize("method, path, status, allow", [
    ("PATCH", "/v1/models/m:predict", 405, "POST, OPTIONS"),
    ("DELETE", "/v1/models/m", 405, "GET, HEAD, OPTIONS"),
    ("PUT", "/monitoring/prometheus/metrics", 405, "GET, HEAD"),
    ("GET", "/v1/models/m:predict", 405, "POST, OPTIONS"),
    ("POST", "/v1/models/m/metadata:predict", 404, None),
])
def test_unknown_methods_are_405_naming_what_is_allowed(server, method, path, status, allow):
    response = requests.request(method, server.rest_url + path, timeout=10)
    assert response.status_code == status, response.text
    message = response.json()["error"]
    if allow:
        assert response.headers["Allow"] == allow
        assert message == f"method {method} is not allowed on {path}; allowed: {allow.replace(', OPTIONS', '')}"
    else:
        assert "no such endpoint" in message
    assert requests.request("BREW", server.rest_url + "/v1/models/m", timeout=10).status_code in (400, 405)  # no such method
    options = requests.options(server.rest_url + "/v1/models/m:predict", timeout=10)
    assert options.status_code == 204 and options.headers["Allow"] == "POST, OPTIONS"
    assert requests.head(server.rest_url + "/v1/models/m", timeout=10).status_code == 200


def test_300_idle_connections_cost_no_thread_and_a_request_is_still_served(server):
    before = threading.active_count()
    sockets = [connect(server) for _ in range(300)]
    try:
        for sock in sockets[::3]:
            sock.sendall(b"GET /v1/models/m HTTP/1.1\r\nHost: x\r\n")  # headers begun, never finished
        time.sleep(0.5)
        assert threading.active_count() - before < 10, threading.active_count()
        answer = requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha w1"]}, timeout=30)
        assert answer.status_code == 200 and answer.json()["predictions"][0]["topic_label"] == "alpha"
        with connect(server) as sock:  # and one of many keep-alive requests on one connection
            for _ in range(3):
                sock.sendall(b"GET /v1/models/m HTTP/1.1\r\nHost: x\r\n\r\n")
                assert read_response(sock)[0] == 200
    finally:
        for sock in sockets:
            sock.close()


def test_stalled_body_gets_408(server):
    with connect(server) as sock:
        sock.sendall(b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"inst")
        began = time.perf_counter()
        status, _, body = read_response(sock)
    assert status == 408 and "stalled" in json.loads(body)["error"]
    assert 0.9 < time.perf_counter() - began < 5


def test_50_hang_ups_are_counted_quietly(server, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    counted = metric(server, "mtlflow_client_disconnects_total")
    body = json.dumps({"instances": ["alpha xa xb town"] * 20}).encode()
    head = b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    for i in range(50):
        with connect(server) as sock:
            kind = i % 3
            if kind == 0:  # mid-headers
                sock.sendall(head[:30])
            elif kind == 1:  # mid-body
                sock.sendall(head + body[: len(body) // 2])
            else:  # the whole request, then gone before the answer
                sock.sendall(head + body)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST
    time.sleep(1.0)
    answer = requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha w1"]}, timeout=30)
    assert answer.status_code == 200
    mid_body = sum(1 for i in range(50) if i % 3 == 1)
    assert metric(server, "mtlflow_client_disconnects_total") - counted >= mid_body
    lines = [r for r in caplog.records if r.levelno >= logging.INFO and r.name.startswith(("uvicorn", "mtlflow", "asyncio"))]
    assert len(lines) <= 50, [r.getMessage() for r in lines[:5]]
    assert not any(r.exc_info for r in caplog.records)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "BrokenPipe" not in out + err
