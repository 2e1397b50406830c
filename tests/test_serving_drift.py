"""Drift: shifted inputs push the windowed PSI over the threshold, in-distribution inputs do not."""

import json
import logging
import math
import random

import numpy as np
import pytest
import requests

from mtlflow.serving import DriftMonitor, ModelConfig, ModelServer, ServerOptions, psi
from test_serving_helpers import in_process, make_base, texts

THRESHOLD = 0.2


def test_psi_in_closed_form():
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi([0.5, 0.5], [1, 3]) == pytest.approx(expected)
    assert psi([0.2, 0.3, 0.5], [20, 30, 50]) == pytest.approx(0.0)
    assert psi([1.0, 0.0], [0, 10]) > 10  # an empty reference bin is floored, not infinite


def test_window_keeps_the_most_recent_examples():
    card = {"tasks": {"y": {"type": "binary"}},
            "reference": {"tasks": {"y": {"classes": {"labels": ["0", "1"], "frequencies": [0.5, 0.5]}}}}}
    monitor = DriftMonitor(card, window=100, threshold=THRESHOLD, min_examples=50)
    for _ in range(10):  # 100 all-positive examples: a full shift
        monitor.observe({"y_label": np.ones(10, np.int32)}, 10)
    assert monitor.report()["y"]["classes"]["alert"]
    for _ in range(10):  # then 100 balanced ones replace them
        monitor.observe({"y_label": np.array([0, 1] * 5, np.int32)}, 10)
    report = monitor.report()["y"]["classes"]
    assert report["examples"] == 100 and report["value"] == pytest.approx(0.0) and not report["alert"]


@pytest.fixture(scope="module")
def card(trained_synthetic):
    run, _ = trained_synthetic
    return json.loads((run.directory / "export" / "1" / "assets.extra" / "mtlflow.json").read_text("utf-8"))


def test_in_distribution_outputs_stay_under_the_threshold(trained_synthetic, card):
    run, _ = trained_synthetic
    monitor = DriftMonitor(card, window=400, threshold=THRESHOLD)
    batch = texts(400, seed=12)
    for start in range(0, 400, 50):
        monitor.observe(in_process(run, batch[start : start + 50]), 50)
    values = {(t, k): r["value"] for t, kinds in monitor.report().items() for k, r in kinds.items()}
    assert len(values) == 9 and max(values.values()) < THRESHOLD, values


def shifted(n: int, seed: int = 0) -> list[str]:
    """Every text about alpha, none with markers, yes, up, items or places: a label shift."""
    rng = random.Random(seed)
    return ["alpha " + " ".join(f"w{rng.randrange(40)}" for _ in range(rng.randint(3, 7))) for _ in range(n)]


def test_shift_over_rest_raises_the_statistic_alerts_and_is_exposed(trained_synthetic, tmp_path, caplog):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "m")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, drift_window=400, drift_threshold=THRESHOLD)
    caplog.set_level(logging.INFO, logger="mtlflow.serving")
    with ModelServer([ModelConfig("m", base)], options) as server, requests.Session() as session:
        def send(batch):
            for start in range(0, len(batch), 25):
                r = session.post(server.rest_url + "/v1/models/m:predict",
                                 json={"instances": batch[start : start + 25]}, timeout=30)
                assert r.status_code == 200, r.text

        def report():
            return session.get(server.rest_url + "/v1/models/m/drift", timeout=10).json()

        send(texts(400, seed=11))
        calm = report()
        assert calm["threshold"] == THRESHOLD and calm["versions"]["1"]["reference"] == "validation"
        values = {(t, k): r["value"] for t, kinds in calm["versions"]["1"]["tasks"].items() for k, r in kinds.items()}
        assert max(values.values()) < THRESHOLD, values
        assert not any("drift alert" in r.message for r in caplog.records)

        send(shifted(400))
        topic = report()["versions"]["1"]["tasks"]["topic"]
        assert topic["classes"]["value"] > THRESHOLD and topic["classes"]["alert"]
        assert topic["classes"]["examples"] == 400
        metrics = session.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    alerts = [r.message for r in caplog.records if "drift alert" in r.message]
    assert any("task topic: classes PSI" in m for m in alerts), alerts
    assert 'mtlflow_drift_alert{kind="classes",model="m",task="topic",version="1"} 1.0' in metrics
    line = next(x for x in metrics.splitlines() if x.startswith('mtlflow_drift_psi{kind="classes",model="m",task="topic",version="1"}'))
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(topic["classes"]["value"], rel=1e-6)
