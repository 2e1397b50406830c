"""Monitoring: the metrics parse as Prometheus text, a real Prometheus scrapes them, the request log."""

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time

import grpc
import pytest
import requests
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mtlflow.serving import ABRouter, ModelConfig, ModelServer, ServerOptions, VersionPolicy
from mtlflow.serving.request_log import RequestLog
from test_serving_helpers import make_base


@pytest.fixture(scope="module")
def served(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    root = tmp_path_factory.mktemp("metrics")
    base = make_base(run, root / "m", versions=(1, 2))
    options = ServerOptions(rest_port=0, grpc_port=0, poll_seconds=0, ab=ABRouter.parse("stable=70,canary=30"),
                            request_log=root / "log" / "requests.jsonl", request_log_inputs=True)
    with ModelServer([ModelConfig("m", base, VersionPolicy.latest(2))], options) as server:
        yield server, root / "log" / "requests.jsonl"


def families(server) -> dict:
    response = requests.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10)
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def test_metrics_parse_with_the_prometheus_client(served):
    server, _ = served
    for key in ("u1", "u2", "u3"):
        requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha w1"]},
                      headers={"X-Mtlflow-Key": key}, timeout=30)
    requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": [7]}, timeout=30)
    found = families(server)
    assert found["mtlflow_requests"].type == "counter"
    counts = {(s.labels["status"], s.labels["signature"]): s.value for s in found["mtlflow_requests"].samples
              if s.name == "mtlflow_requests_total" and s.labels["api"] == "rest"}
    assert counts[("OK", "serving_default")] >= 3 and counts[("INVALID_ARGUMENT", "serving_default")] >= 1
    latency = found["mtlflow_request_latency_seconds"]
    assert latency.type == "histogram"
    assert any(s.name.endswith("_bucket") and s.labels["le"] == "+Inf" for s in latency.samples)
    states = {(s.labels["version"], s.labels["state"]): s.value for s in found["mtlflow_model_version_state"].samples}
    assert states == {("1", "AVAILABLE"): 1.0, ("2", "AVAILABLE"): 1.0}
    arms = {s.labels["arm"]: (s.labels["version"], s.value) for s in found["mtlflow_ab_arm_weight"].samples}
    assert arms == {"stable": ("1", pytest.approx(0.7)), "canary": ("2", pytest.approx(0.3))}
    assert sum(s.value for s in found["mtlflow_ab_requests"].samples if s.name == "mtlflow_ab_requests_total") >= 3
    drift = {(s.labels["version"], s.labels["task"], s.labels["kind"]) for s in found["mtlflow_drift_psi"].samples}
    assert ("1", "topic", "classes") in drift and ("2", "score", "scores") in drift
    assert found["mtlflow_inflight_requests"].samples[0].value >= 0
    assert "mtlflow_client_disconnects" in found and "mtlflow_batch_deadline_exceeded" in found


def test_request_log_writes_json_lines_with_inputs(served):
    server, path = served
    channel = grpc.insecure_channel(server.grpc_target)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "predict_topic"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["gamma w5 w6"]))
    prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=30)
    channel.close()
    requests.post(server.rest_url + "/v1/models/m/versions/2:predict", json={"instances": ["beta 预"]}, timeout=30)
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    grpc_line = next(x for x in lines if x["api"] == "grpc")
    assert grpc_line["signature"] == "predict_topic" and grpc_line["status"] == "OK"
    assert grpc_line["inputs"] == {"text": ["gamma w5 w6"]} and grpc_line["latency_ms"] > 0
    rest_line = lines[-1]
    assert rest_line["version"] == 2 and rest_line["inputs"] == {"text": ["beta 预"]}
    assert set(rest_line) == {"time", "api", "model", "version", "signature", "latency_ms", "status", "inputs"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", rest_line["time"])


def test_request_log_sampling(tmp_path):
    log = RequestLog(tmp_path / "r.jsonl", sample_rate=0.25)
    random.seed(3)
    for _ in range(4000):
        if log.sampled():
            log.write(api="rest", model="m", version=1, signature="s", seconds=0.001, status="OK")
    log.close()
    logged = len((tmp_path / "r.jsonl").read_text().splitlines())
    assert abs(logged - 1000) < 120  # > 4 standard deviations (sqrt(4000 * 0.25 * 0.75) = 27)
    assert "inputs" not in json.loads((tmp_path / "r.jsonl").read_text().splitlines()[0])
    with pytest.raises(ValueError, match="sample_rate"):
        RequestLog(tmp_path / "x.jsonl", sample_rate=1.5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a TensorFlow process and a Prometheus server: ~15-35 s
@pytest.mark.skipif(shutil.which("prometheus") is None,
                    reason="the prometheus server binary is not installed (Debian: apt-get install prometheus)")
def test_a_real_prometheus_scrapes_mtlflow_serve(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    serve = subprocess.Popen([sys.executable, "-m", "mtlflow.serving.cli", "--model-base-path", str(base),
                              "--model-name", "m", "--port", "0", "--grpc-port", "-1",
                              "--file-system-poll-wait-seconds", "0", "--drain-seconds", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    prometheus = None
    try:
        lines = []
        while not lines or "listening" not in lines[-1]:
            line = serve.stdout.readline()
            assert line, "mtlflow serve exited:\n" + "".join(lines)
            lines.append(line)
        port = int(re.search(r"REST http://127\.0\.0\.1:(\d+)", lines[-1]).group(1))
        web = free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: mtlflow\n"
            "    metrics_path: /monitoring/prometheus/metrics\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n")
        prometheus = subprocess.Popen(["prometheus", f"--config.file={tmp_path / 'prometheus.yml'}",
                                       f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{web}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(5):
            assert requests.post(f"http://127.0.0.1:{port}/v1/models/m:predict", json={"instances": ["alpha w1"]},
                                 timeout=30).status_code == 200
        query = 'sum(mtlflow_requests_total{job="mtlflow",api="rest",model="m",status="OK"})'
        value, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline and value != 5.0:
            try:
                answer = requests.get(f"http://127.0.0.1:{web}/api/v1/query", params={"query": query}, timeout=5).json()
                result = answer["data"]["result"]
                value = float(result[0]["value"][1]) if result else None
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        assert value == 5.0, value
    finally:
        for process in (prometheus, serve):
            if process is not None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
