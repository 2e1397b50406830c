"""The model config file, the ``serve`` command line, loopback binding and graceful shutdown."""

import argparse
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
import requests
from google.protobuf import text_format
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tensorflow_serving.apis import model_management_pb2, model_service_pb2_grpc

from mtlflow.errors import MtlflowError
from mtlflow.serving import (ModelConfig, ModelServer, Servable, ServerOptions, VersionPolicy, load_model_config,
                             parse_model_config)
from mtlflow.serving.cli import add_arguments, build
from test_serving_helpers import make_base

CONFIG = """
model_config_list {
  config {
    name: 'nlu'
    base_path: '/models/nlu'
    model_platform: 'tensorflow'
    model_version_policy { specific { versions: 1 versions: 3 } }
    version_labels { key: 'stable' value: 1 }
    version_labels { key: 'canary' value: 3 }
  }
  config { name: "intent" base_path: "relative/intent" model_version_policy { latest { num_versions: 2 } } }
  config { name: 'all' base_path: '/m/all' model_version_policy { all {} } }
}
"""


def test_parses_tf_serving_model_server_config(tmp_path):
    nlu, intent, everything = parse_model_config(CONFIG, "models.config", tmp_path)
    assert nlu == ModelConfig("nlu", Path("/models/nlu"), VersionPolicy.specific([1, 3]), {"stable": 1, "canary": 3})
    assert intent.base_path == tmp_path / "relative" / "intent" and intent.policy == VersionPolicy.latest(2)
    assert everything.policy == VersionPolicy.all() and everything.labels == {}


@pytest.mark.parametrize("text, words", [
    ("model_config_list { config { name: 'a' base_path: '/x' } ", "models.config:"),
    ("model_config_list { config { base_path: '/x' } }", "name is required"),
    ("model_config_list { config { name: 'a' } }", "base_path is required"),
    ("model_config_list { config { name: 'a' base_path: '/x' } config { name: 'a' base_path: '/y' } }", "twice"),
    ("model_config_list { config { name: 'a' base_path: '/x' model_platform: 'onnx' } }", "model_platform"),
    ("model_config_list { config { name: 'a' base_path: '/x' nonsense: 1 } }", "nonsense"),
    ("", "model_config_list"),
])
def test_config_errors_name_the_problem(text, words):
    with pytest.raises(MtlflowError, match=re.escape(words)):
        parse_model_config(text, "models.config")


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_command_line_builds_models_and_options(tmp_path):
    (tmp_path / "m").mkdir()
    models, options = build(parse("--model-base-path", str(tmp_path / "m"), "--model-name", "m",
                                  "--version-policy", "latest:2", "--version-labels", "stable=1,canary=2",
                                  "--enable-batching", "--max-batch-size", "8", "--ab", "stable=90,canary=10",
                                  "--drift-threshold", "0.3", "--port", "0"))
    assert models == [ModelConfig("m", tmp_path / "m", VersionPolicy.latest(2), {"stable": 1, "canary": 2})]
    assert options.host == "127.0.0.1" and options.rest_port == 0 and options.grpc_port == 8500
    assert options.enable_batching and options.max_rows == 8 and options.drift_threshold == 0.3
    assert options.ab.arms == ("stable", "canary")
    config = tmp_path / "models.config"
    config.write_text(CONFIG)
    assert [m.name for m in build(parse("--model-config-file", str(config)))[0]] == ["nlu", "intent", "all"]
    for argv, words in [((), "nothing to serve"),
                        (("--model-config-file", str(config), "--model-name", "x"), "either"),
                        (("--model-base-path", str(tmp_path / "none"), "--model-name", "m"), "no such directory"),
                        (("--model-base-path", str(tmp_path / "m"), "--model-name", "m", "--ab", "stable"), "LABEL=WEIGHT"),
                        (("--model-base-path", str(tmp_path / "m"), "--model-name", "m", "--version-policy", "x"), "policy"),
                        (("--model-base-path", str(tmp_path / "m"), "--model-name", "m", "--max-batch-size", "0"),
                         "max_batch_size")]:
        with pytest.raises(MtlflowError, match=words):
            build(parse(*argv))


def test_graceful_stop_drains_in_flight_requests(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")

    def slow_loader(name, version, path):
        servable = Servable.load(name, version, path)
        fast = servable.run
        servable.run = lambda *args: (time.sleep(1.0), fast(*args))[1]
        return servable

    server = ModelServer([ModelConfig("m", base)], ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0),
                         loader=slow_loader).start()
    assert server.rest_url.startswith("http://127.0.0.1:")  # loopback unless --host says otherwise
    url = server.rest_url + "/v1/models/m:predict"
    answers = []
    client = threading.Thread(target=lambda: answers.append(requests.post(url, json={"instances": ["alpha w1"]},
                                                                          timeout=30)))
    client.start()
    deadline = time.monotonic() + 10
    while server.core._inflight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.stop(drain_seconds=10) is True
    client.join(timeout=30)
    assert answers and answers[0].status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.post(url, json={"instances": ["alpha w1"]}, timeout=5)


def test_serve_command_runs_until_sigterm(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")
    process = subprocess.Popen(
        [sys.executable, "-m", "mtlflow.serving.cli", "--model-base-path", str(base), "--model-name", "m",
         "--port", "0", "--grpc-port", "0", "--file-system-poll-wait-seconds", "0", "--drain-seconds", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    try:
        lines = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "listening" in line:
                break
        port = int(re.search(r"REST http://127\.0\.0\.1:(\d+)", "".join(lines)).group(1))
        assert "model 'm'" in "".join(lines) and "versions 1" in "".join(lines)
        response = requests.post(f"http://127.0.0.1:{port}/v1/models/m:predict", json={"instances": ["beta w1"]},
                                 timeout=30)
        assert response.status_code == 200 and response.json()["predictions"][0]["topic_label"] == "beta"
        target = "127.0.0.1:" + re.search(r"gRPC 127\.0\.0\.1:(\d+)", "".join(lines)).group(1)
        channel = grpc.insecure_channel(target)
        watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service="m"), timeout=60)
        statuses = [next(watch).status]
        process.send_signal(signal.SIGTERM)
        statuses += [r.status for r in _until_error(watch)]
        channel.close()
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err[-2000:]
    assert "stopped" in out
    status = health_pb2.HealthCheckResponse
    assert statuses[0] == status.SERVING and statuses[-1] == status.NOT_SERVING, statuses


def health_status(target: str, service: str):
    with grpc.insecure_channel(target) as channel:
        try:
            return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                              timeout=10).status
        except grpc.RpcError as exc:
            return exc.code()


def wait_for(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_config_reload_adds_removes_and_reconfigures_models(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    make_base(run, tmp_path / "a", versions=(1, 2))
    make_base(run, tmp_path / "b")
    config = tmp_path / "models.config"
    config.write_text("model_config_list { config { name: 'a' base_path: 'a' } }")
    options = ServerOptions(rest_port=0, grpc_port=0, poll_seconds=0, config_file=config, config_poll_seconds=0.1)
    serving = health_pb2.HealthCheckResponse.SERVING
    with ModelServer(load_model_config(config), options) as server:
        def predict(model, label=None):
            path = f"/v1/models/{model}" + (f"/labels/{label}" if label else "") + ":predict"
            return requests.post(server.rest_url + path, json={"instances": ["alpha w1"]}, timeout=30)

        assert predict("a").headers["X-Mtlflow-Model-Version"] == "2" and predict("b").status_code == 404
        config.write_text("model_config_list {\n config { name: 'b' base_path: 'b' }\n"
                          " config { name: 'a' base_path: 'a' model_version_policy { all {} }\n"
                          "          version_labels { key: 'gold' value: 1 } } }")
        assert wait_for(lambda: predict("b").status_code == 200)
        assert wait_for(lambda: predict("a", "gold").status_code == 200)
        assert predict("a", "gold").headers["X-Mtlflow-Model-Version"] == "1"
        assert sorted(server.core.managers["a"].available) == [1, 2]
        assert health_status(server.grpc_target, "b") == serving
        config.write_text("model_config_list { config { name: 'b' base_path: 'b' } }")
        assert wait_for(lambda: predict("a").status_code == 404)
        assert health_status(server.grpc_target, "a") == health_pb2.HealthCheckResponse.NOT_SERVING
        config.write_text("model_config_list { config { name: 'b' base_path: 'b' ")  # broken: ignored
        time.sleep(0.5)
        assert predict("b").status_code == 200

        request = model_management_pb2.ReloadConfigRequest()  # and over gRPC, TF Serving's way
        text_format.Parse(f"model_config_list {{ config {{ name: 'c' base_path: '{tmp_path / 'a'}' }} }}",
                          request.config)
        with grpc.insecure_channel(server.grpc_target) as channel:
            answer = model_service_pb2_grpc.ModelServiceStub(channel).HandleReloadConfigRequest(request, timeout=60)
        assert answer.status.error_code == 0 and "added: c" in answer.status.error_message
        assert predict("c").status_code == 200 and predict("b").status_code == 404
        assert health_status(server.grpc_target, "c") == serving


def test_health_follows_loads_and_swaps_then_shutdown(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = tmp_path / "m"
    base.mkdir()
    options = ServerOptions(rest_port=-1, grpc_port=0, poll_seconds=0.1, drain_seconds=1)
    server = ModelServer([ModelConfig("m", base)], options).start()
    seen = []
    channel = grpc.insecure_channel(server.grpc_target)
    stream = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest(service="m"), timeout=120)
    watcher = threading.Thread(target=lambda: [seen.append(r.status) for r in _until_error(stream)])
    watcher.start()
    status = health_pb2.HealthCheckResponse
    try:
        assert wait_for(lambda: seen == [status.NOT_SERVING]), seen  # nothing loaded yet
        make_base(run, base)  # version 1 appears
        assert wait_for(lambda: seen[-1:] == [status.SERVING]), seen
        make_base(run, base, versions=(2,))  # the swap: 2 loads before 1 unloads
        assert wait_for(lambda: sorted(server.core.managers["m"].available) == [2])
        assert seen == [status.NOT_SERVING, status.SERVING], seen
    finally:
        server.stop()
    assert wait_for(lambda: seen[-1:] == [status.NOT_SERVING], 10), seen
    stream.cancel()
    watcher.join(timeout=10)
    channel.close()


def _until_error(stream):
    try:
        yield from stream
    except grpc.RpcError:
        return
