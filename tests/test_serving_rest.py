"""The REST API with a real HTTP client on loopback: formats, status, metadata, errors, batching."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import TEXTS, assert_outputs_equal, in_process, make_base, texts


@pytest.fixture(scope="module")
def served(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("rest") / "m")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, max_body_bytes=64 * 1024, max_request_rows=64)
    with ModelServer([ModelConfig("m", base)], options) as server:
        yield run, server


def post(server, body, path="/v1/models/m:predict", **kwargs):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(server.rest_url + path, data=data, timeout=30, **kwargs)


def test_row_format_matches_the_in_process_model(served):
    run, server = served
    response = post(server, {"instances": TEXTS})
    assert response.status_code == 200, response.text
    assert response.headers["X-Mtlflow-Model-Version"] == "1"
    predictions = response.json()["predictions"]
    assert len(predictions) == len(TEXTS)
    columns = {k: [row[k] for row in predictions] for k in predictions[0]}
    assert_outputs_equal(columns, in_process(run, TEXTS))
    assert predictions[0]["topic_label"] == "beta"  # strings come back as strings
    assert predictions[0]["tags_span_texts"][:2] == ["xa xb", "town"]


def test_columnar_format_and_named_instances(served):
    run, server = served
    response = post(server, {"inputs": {"text": TEXTS}})
    assert response.status_code == 200, response.text
    assert_outputs_equal(response.json()["outputs"], in_process(run, TEXTS))
    bare = post(server, {"inputs": TEXTS}).json()["outputs"]  # the only input, unnamed
    assert bare["topic_label"] == response.json()["outputs"]["topic_label"]
    named = post(server, {"instances": [{"text": t} for t in TEXTS]}).json()["predictions"]
    assert [p["topic_label"] for p in named] == bare["topic_label"]
    encoded = post(server, {"instances": [{"b64": "Z2FtbWEgdzUgdzY="}]}).json()  # base64 of "gamma w5 w6"
    assert encoded["predictions"][0]["topic_label"] == bare["topic_label"][1]


def test_per_task_signature(served):
    run, server = served
    response = post(server, {"signature_name": "predict_topic", "instances": TEXTS})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert set(predictions[0]) == {"topic_label", "topic_score", "topic_probabilities"}
    assert [p["topic_label"] for p in predictions] == [t.decode() for t in in_process(run, TEXTS)["topic_label"]]
    score = post(server, {"signature_name": "predict_score", "inputs": {"text": TEXTS[:2]}}).json()["outputs"]
    assert len(score) == 2 and isinstance(score[0], float)  # one output: its value, not an object


def test_status_and_metadata_like_tf_serving(served):
    _, server = served
    for path in ("/v1/models/m", "/v1/models/m/versions/1"):
        status = requests.get(server.rest_url + path, timeout=10).json()
        assert status == {"model_version_status": [
            {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    metadata = requests.get(server.rest_url + "/v1/models/m/metadata", timeout=10).json()
    assert metadata["model_spec"] == {"name": "m", "signature_name": "", "version": "1"}
    signatures = metadata["metadata"]["signature_def"]["signature_def"]
    assert set(signatures) == {"serving_default", "predict_topic", "predict_colors", "predict_flag", "predict_score",
                               "predict_tags"}
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert default["inputs"]["text"]["dtype"] == "DT_STRING"
    assert default["inputs"]["text"]["tensor_shape"]["dim"] == [{"size": "-1", "name": ""}]
    assert default["outputs"]["topic_probabilities"]["tensor_shape"]["dim"][1]["size"] == "4"
    assert set(signatures["predict_flag"]["outputs"]) == {"flag_label", "flag_probability"}


def test_classify_and_regress(served):
    run, server = served
    classified = post(server, {"signature_name": "predict_topic", "examples": [{"text": t} for t in TEXTS]},
                      path="/v1/models/m:classify")
    assert classified.status_code == 200, classified.text
    rows = classified.json()["results"]
    expected = in_process(run, TEXTS)["topic_probabilities"]
    assert [label for label, _ in rows[0]] == ["alpha", "beta", "delta", "gamma"]
    assert [score for _, score in rows[1]] == pytest.approx(expected[1].tolist(), rel=1e-5)
    regressed = post(server, {"examples": [{"text": t} for t in TEXTS]}, path="/v1/models/m:regress")
    assert regressed.json()["results"] == pytest.approx(in_process(run, TEXTS)["score_value"].tolist(), rel=1e-5)
    several = post(server, {"examples": [{"text": "alpha"}]}, path="/v1/models/m:classify")
    assert several.status_code == 400 and "predict_topic" in several.json()["error"]


@pytest.mark.parametrize("body, status, words", [
    (b"{not json", 400, "malformed JSON"),
    (b"[1, 2]", 400, "JSON object"),
    ({"instances": ["a"], "inputs": ["a"]}, 400, "exactly one"),
    ({"instances": []}, 400, "empty"),
    ({"instances": [3]}, 400, "expected a string"),
    ({"instances": [["a", "b"]]}, 400, "shape"),
    ({"inputs": {"txt": ["a"]}}, 400, "unknown input 'txt'"),
    ({"instances": [{"text": "a", "x": 1}]}, 400, "unknown input 'x'"),
    ({"instances": ["a b"], "signature_name": "nope"}, 400, "no signature 'nope'"),
    ({"instances": ["a b"] * 65}, 400, "65 rows"),
    ({"instances": [{"b64": "!!"}]}, 400, "base64"),
])
def test_bad_requests_get_4xx_with_a_message(served, body, status, words):
    _, server = served
    response = post(server, body)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]


def test_unknown_model_version_and_route(served):
    _, server = served
    assert post(server, {"instances": ["a b"]}, path="/v1/models/nope:predict").status_code == 404
    assert post(server, {"instances": ["a b"]}, path="/v1/models/m/versions/7:predict").status_code == 404
    assert post(server, {"instances": ["a b"]}, path="/v1/models/m/versions/x:predict").status_code == 400
    assert post(server, {"instances": ["a b"]}, path="/v1/models/m/labels/gold:predict").status_code == 404
    assert requests.get(server.rest_url + "/v2/whatever", timeout=10).status_code == 404
    assert requests.get(server.rest_url + "/v1/models/m:predict", timeout=10).status_code == 405
    assert requests.get(server.rest_url + "/v1/models/m/versions/9", timeout=10).status_code == 404


def test_body_size_limit_is_413_and_the_server_goes_on(served):
    _, server = served
    response = post(server, {"instances": ["x" * 70_000]})
    assert response.status_code == 413
    assert "limit" in response.json()["error"]
    chunks = (b'{"instances": ["' + b"x" * 40_000 + b'", "' + b"y" * 40_000 + b'"]}' for _ in range(1))
    chunked = requests.post(server.rest_url + "/v1/models/m:predict", data=chunks, timeout=30)  # no Content-Length
    assert chunked.status_code == 413 and "limit" in chunked.json()["error"]
    assert post(server, {"instances": ["alpha w1"]}).status_code == 200


def test_prometheus_metrics(served):
    _, server = served
    post(server, {"instances": ["alpha w1"]})
    post(server, {"instances": [1]})
    text = requests.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    assert "# TYPE mtlflow_requests_total counter" in text
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    labels = (("api", "rest"), ("model", "m"), ("signature", "serving_default"), ("status", "OK"), ("version", "1"))
    assert samples[("mtlflow_requests_total", labels)] >= 1
    assert samples[("mtlflow_requests_total", labels[:3] + (("status", "INVALID_ARGUMENT"), ("version", "1")))] >= 1
    assert samples[("mtlflow_request_latency_seconds_bucket", tuple(sorted(labels + (("le", "+Inf"),))))] >= 1
    assert ("mtlflow_batch_size_bucket", (("le", "1.0"), ("model", "m"), ("signature", "serving_default"),
                                          ("version", "1"))) in samples
    assert samples[("mtlflow_model_version_state", (("model", "m"), ("state", "AVAILABLE"), ("version", "1")))] == 1
    assert ("mtlflow_drift_psi", (("kind", "classes"), ("model", "m"), ("task", "topic"), ("version", "1"))) in samples


def test_batching_merges_concurrent_requests_and_keeps_each_answer(trained_synthetic, tmp_path):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path / "b")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, enable_batching=True, max_batch_size=64,
                            batch_timeout_micros=20_000)
    batches = [texts(3, seed=s) + ["w1 w2"] * (s % 2) for s in range(24)]  # different lengths and spans
    batches[5] = ["alpha xa xb town xa xb w1 w2 w3 w4 w5 w6 w7 w8 w9"]  # a long one pads the others
    with ModelServer([ModelConfig("m", base)], options) as server, requests.Session() as session:
        def call(batch):
            return session.post(server.rest_url + "/v1/models/m:predict", json={"inputs": {"text": batch}}, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(call, batches))
        metrics = requests.get(server.rest_url + "/monitoring/prometheus/metrics", timeout=10).text
    for batch, response in zip(batches, responses):
        assert response.status_code == 200, response.text
        assert_outputs_equal(response.json()["outputs"], in_process(run, batch))
    sizes = [line for line in metrics.splitlines() if line.startswith("mtlflow_batch_size_count")]
    calls = int(float(sizes[0].rsplit(" ", 1)[1]))
    assert calls < len(batches), f"{calls} model calls for {len(batches)} requests: nothing was batched"
