"""A/B routing: a stable hash makes arms sticky per key, weights set the split, metrics per arm."""

import grpc
import pytest
import requests
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mtlflow.serving import ABRouter, ModelConfig, ModelServer, ServerOptions, VersionPolicy
from mtlflow.serving.ab import stable_fraction
from test_serving_helpers import make_base


def test_router_parsing_and_errors():
    router = ABRouter.parse("stable=90, canary=10")
    assert router.arms == ("stable", "canary") and router.weights == pytest.approx((0.9, 0.1))
    for bad in ("stable", "stable=x", "=5", "a=-1,b=2", "a=0"):
        with pytest.raises(ValueError):
            ABRouter.parse(bad)


def test_stable_hash_is_sticky_and_uniform():
    assert stable_fraction("user-1") == stable_fraction("user-1")  # no per-process seed
    router = ABRouter.parse("stable=90,canary=10")
    keys = [f"user-{i}" for i in range(20_000)]
    arms = [router.choose(k) for k in keys]
    assert arms == [router.choose(k) for k in keys]
    share = arms.count("canary") / len(arms)
    assert abs(share - 0.10) < 0.01  # 0.01 is > 4 standard deviations at n=20,000
    assert abs(sum(router.choose() == "canary" for _ in range(20_000)) / 20_000 - 0.10) < 0.01  # no key: random


@pytest.fixture(scope="module")
def server(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("ab") / "m", versions=(1, 2))
    options = ServerOptions(rest_port=0, grpc_port=0, poll_seconds=0, ab=ABRouter.parse("stable=70,canary=30"))
    # no explicit labels: canary follows the newest version (2), stable the one before (1)
    with ModelServer([ModelConfig("m", base, VersionPolicy.latest(2))], options) as server:
        yield server


def test_split_and_stickiness_over_rest(server):
    with requests.Session() as session:
        def version(key, in_body=False):
            body = {"instances": ["alpha w1"]}
            headers = {}
            if in_body:
                body["mtlflow_key"] = key
            else:
                headers["X-Mtlflow-Key"] = key
            r = session.post(server.rest_url + "/v1/models/m:predict", json=body, headers=headers, timeout=30)
            assert r.status_code == 200, r.text
            assert r.headers["X-Mtlflow-Arm"] == {"1": "stable", "2": "canary"}[r.headers["X-Mtlflow-Model-Version"]]
            return r.headers["X-Mtlflow-Model-Version"]

        first = {k: version(k) for k in (f"u{i}" for i in range(300))}
        share = sum(v == "2" for v in first.values()) / len(first)
        assert 0.2 < share < 0.4, share  # 30 % ± > 3.5 standard deviations
        for key in list(first)[:20]:
            assert version(key) == first[key] == version(key, in_body=True)
        explicit = session.post(server.rest_url + "/v1/models/m/versions/1:predict",
                                json={"instances": ["alpha w1"]}, headers={"X-Mtlflow-Key": "u0"}, timeout=30)
        assert "X-Mtlflow-Arm" not in explicit.headers  # a named version bypasses the split
        metrics = session.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    counts = {s.labels["arm"]: int(s.value) for f in text_string_to_metric_families(metrics) for s in f.samples
              if s.name == "mtlflow_ab_requests_total" and s.labels["status"] == "OK"}
    canary = sum(v == "2" for v in first.values()) + 2 * sum(first[k] == "2" for k in list(first)[:20])
    assert counts == {"canary": canary, "stable": 340 - canary}
    assert 'mtlflow_ab_latency_seconds_count{arm="canary",model="m"}' in metrics


def test_grpc_key_in_metadata_is_sticky(server):
    channel = grpc.insecure_channel(server.grpc_target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["alpha w1"]))
    for key in ("u1", "u2", "u3", "u4"):
        versions = {stub.Predict(request, metadata=[("x-mtlflow-key", key)], timeout=30).model_spec.version.value
                    for _ in range(5)}
        assert len(versions) == 1
        expected = 2 if ABRouter.parse("stable=70,canary=30").choose(key) == "canary" else 1
        assert versions == {expected}
    channel.close()
