"""Version policies, labels, failed loads, incomplete exports and hot swaps under load."""

import os
import shutil
import threading
import time

import grpc
import pytest
import requests

from mtlflow.run import export_run
from mtlflow.serving import ModelConfig, ModelManager, ModelServer, ServerOptions, ServingError, VersionPolicy
from test_serving_helpers import make_base


class Fake:
    """Stands in for a loaded version (the manager only keeps it)."""

    def __init__(self, name, version, path):
        self.name, self.version, self.path = name, version, path


def fake_base(root, versions):
    for v in versions:
        (root / str(v)).mkdir(parents=True)
        (root / str(v) / "saved_model.pb").write_bytes(b"")
    return root


@pytest.mark.parametrize("policy, served", [
    (VersionPolicy.latest(), [3]),
    (VersionPolicy.latest(2), [2, 3]),
    (VersionPolicy.all(), [1, 2, 3]),
    (VersionPolicy.specific([1, 3]), [1, 3]),
])
def test_version_policies(tmp_path, policy, served):
    manager = ModelManager("m", fake_base(tmp_path, [1, 2, 3]), policy, poll_seconds=0, loader=Fake)
    manager.start()
    assert sorted(manager.available) == served
    assert manager.resolve().version == served[-1]
    for version in {1, 2, 3} - set(served):
        with pytest.raises(ServingError) as info:
            manager.resolve(version)
        assert info.value.code == grpc.StatusCode.NOT_FOUND and "available: " in str(info.value)


def test_policy_parsing():
    assert VersionPolicy.parse("latest:2") == VersionPolicy.latest(2)
    assert VersionPolicy.parse("specific:3,1").versions == (1, 3)
    assert VersionPolicy.parse("all").select([5, 1]) == [1, 5]
    for bad in ("latest:0", "newest", "specific:", "all:2"):
        with pytest.raises(ValueError):
            VersionPolicy.parse(bad)


def test_new_version_loads_before_the_old_one_unloads(tmp_path):
    manager = ModelManager("m", fake_base(tmp_path, [1]), poll_seconds=0, loader=Fake)
    manager.start()
    fake_base(tmp_path, [2])
    manager.poll()
    assert list(manager.available) == [2]
    assert [(s.version, s.state) for s in manager.status()] == [(2, "AVAILABLE"), (1, "END")]


def test_a_version_that_fails_to_load_is_reported_and_never_replaces_a_good_one(tmp_path):
    calls = []

    def loader(name, version, path):
        calls.append(version)
        if version == 3:
            raise ValueError("corrupt graph")
        return Fake(name, version, path)

    base = fake_base(tmp_path, [2])
    manager = ModelManager("m", base, poll_seconds=0, loader=loader)
    manager.start()
    fake_base(tmp_path, [3])
    manager.poll()
    manager.poll()  # not retried while unchanged
    assert list(manager.available) == [2] and calls == [2, 3]
    (failed,) = manager.status(3)
    assert failed.state == "END" and failed.error_code == "UNKNOWN" and "corrupt graph" in failed.error_message
    assert manager.status(2)[0].state == "AVAILABLE"
    os.utime(base / "3" / "saved_model.pb", (time.time() + 5, time.time() + 5))  # rewritten: tried again
    manager.poll()
    assert calls == [2, 3, 3]


def test_labels_explicit_and_automatic(tmp_path):
    base = fake_base(tmp_path, [1, 2, 3])
    manager = ModelManager("m", base, VersionPolicy.specific([1, 2]), labels={"stable": 1, "canary": 3},
                           poll_seconds=0, loader=Fake)
    manager.start()
    assert manager.resolve(label="stable").version == 1
    with pytest.raises(ServingError, match="points at version 3"):
        manager.resolve(label="canary")
    with pytest.raises(ServingError, match="no version label 'gold'"):
        manager.resolve(label="gold")
    auto = ModelManager("a", base, VersionPolicy.latest(2), poll_seconds=0, loader=Fake)
    auto.start()
    assert auto.labels() == {"stable": 2, "canary": 3}


def test_real_server_reports_failed_and_ignores_incomplete_versions(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m", versions=(1, 2))
    (base / "5").mkdir()
    (base / "5" / "saved_model.pb").write_bytes(b"\x08\x01 this is not a SavedModel")
    (base / "6").mkdir()  # no saved_model.pb yet: an export in progress elsewhere
    (base / ".tmp-7-0000").mkdir()
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0)
    models = [ModelConfig("m", base, VersionPolicy.all(), {"stable": 1, "canary": 2})]
    with ModelServer(models, options) as server:
        status = requests.get(server.rest_url + "/v1/models/m", timeout=10).json()["model_version_status"]
        states = {s["version"]: (s["state"], s["status"]["error_code"]) for s in status}
        assert states == {"5": ("END", "UNKNOWN"), "2": ("AVAILABLE", "OK"), "1": ("AVAILABLE", "OK")}
        assert "failed to load" in status[0]["status"]["error_message"]
        for label, version in (("stable", "1"), ("canary", "2")):
            response = requests.post(f"{server.rest_url}/v1/models/m/labels/{label}:predict",
                                     json={"instances": ["alpha w1"]}, timeout=30)
            assert response.status_code == 200 and response.headers["X-Mtlflow-Model-Version"] == version
        label_status = requests.get(server.rest_url + "/v1/models/m/labels/canary", timeout=10).json()
        assert label_status["model_version_status"][0]["version"] == "2"


def test_hot_swap_under_load_drops_no_request(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0.2, enable_batching=True)
    results, stop = [], threading.Event()

    def load(server):
        deadline = time.monotonic() + 120  # bounded even if the swap never came
        with requests.Session() as session:
            while not stop.is_set() and time.monotonic() < deadline and len(results) < 20_000:
                try:
                    r = session.post(server.rest_url + "/v1/models/m:predict",
                                     json={"instances": ["alpha xa xb town", "beta w2"]}, timeout=30)
                    results.append((r.status_code, r.headers.get("X-Mtlflow-Model-Version")))
                except requests.RequestException as exc:
                    results.append((repr(exc), None))

    with ModelServer([ModelConfig("m", base)], options) as server:
        threads = [threading.Thread(target=load, args=(server,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            while not results:
                time.sleep(0.05)
            export_run(run, base, version=2)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not any(v == "2" for _, v in results[-20:]):
                time.sleep(0.1)
            time.sleep(0.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        status = requests.get(server.rest_url + "/v1/models/m", timeout=10).json()["model_version_status"]
    failures = [r for r in results if r[0] != 200]
    assert not failures, failures[:5]
    versions = [v for _, v in results]
    assert versions[0] == "1" and versions[-1] == "2", (versions[:3], versions[-3:])
    assert len(results) > 20
    assert {s["version"]: s["state"] for s in status} == {"2": "AVAILABLE", "1": "END"}


def test_failed_loads_are_retried_as_often_and_as_far_apart_as_configured(tmp_path):
    calls = []

    def loader(name, version, path):
        calls.append(version)
        raise ValueError("not yet")

    manager = ModelManager("m", fake_base(tmp_path, [1]), poll_seconds=0, loader=loader, load_retries=2,
                           retry_interval=0.2)
    manager.start()
    manager.poll()  # too soon for a retry
    assert calls == [1]
    for _ in range(4):
        time.sleep(0.25)
        manager.poll()
    assert calls == [1, 1, 1]  # the first attempt and two retries, then no more
    assert "no retries left" not in manager.status(1)[0].error_message  # the message is the load's error
    assert "not yet" in manager.status(1)[0].error_message


def test_a_half_copied_version_is_served_once_complete(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")
    source = run.directory / "export" / "1"
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0.2, load_retry_interval_seconds=0.3)
    with ModelServer([ModelConfig("m", base)], options) as server:
        (base / "2").mkdir()
        shutil.copy(source / "saved_model.pb", base / "2" / "saved_model.pb")  # the graph first, variables later
        manager = server.core.managers["m"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(s.version == 2 and s.state == "END" for s in manager.status()):
            time.sleep(0.02)
        assert "failed to load" in manager.status(2)[0].error_message
        assert sorted(manager.available) == [1]
        for item in source.iterdir():
            if item.name != "saved_model.pb":
                (shutil.copytree if item.is_dir() else shutil.copy)(item, base / "2" / item.name)
        while time.monotonic() < deadline and 2 not in manager.available:
            time.sleep(0.1)
        assert sorted(manager.available) == [2], manager.status()
        response = requests.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha w1"]}, timeout=30)
        assert response.status_code == 200 and response.headers["X-Mtlflow-Model-Version"] == "2"
        metrics = requests.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    assert 'mtlflow_version_load_failures_total{model="m"}' in metrics
