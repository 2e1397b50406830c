"""Fuzzing the REST API: hundreds of malformed requests, never a 5xx, and the server goes on."""

import base64
import json

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import make_base

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["", " ", "alpha", "xa xb town", "w1 w2", "我想取消"]))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                            st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                           max_leaves=25)
b64 = st.binary(max_size=20).map(lambda b: {"b64": base64.b64encode(b).decode()})
texts = st.lists(st.one_of(st.text(max_size=40), b64, scalars), min_size=0, max_size=8)
tensors = st.one_of(texts, st.lists(texts, max_size=3), json_values)
payloads = st.one_of(
    json_values,
    st.fixed_dictionaries({"instances": tensors}),
    st.fixed_dictionaries({"inputs": st.one_of(tensors, st.dictionaries(st.sampled_from(["text", "txt", ""]), tensors))}),
    st.fixed_dictionaries({"instances": st.lists(st.dictionaries(st.sampled_from(["text", "x"]), scalars), max_size=4)}),
    st.fixed_dictionaries({"signature_name": st.one_of(st.sampled_from(["", "predict_topic", "predict_tags", "nope"]),
                                                       json_values),
                           "instances": texts}),
    st.fixed_dictionaries({"examples": st.lists(st.dictionaries(st.sampled_from(["text", "y"]), tensors), max_size=3),
                           "context": json_values}),
)
paths = st.one_of(
    st.sampled_from(["/v1/models/m:predict", "/v1/models/m:classify", "/v1/models/m:regress",
                     "/v1/models/m/versions/1:predict", "/v1/models/m/labels/stable:predict"]),
    st.builds(lambda name, tail: f"/v1/models/{name}{tail}", st.text("mx1/:%.", max_size=6),
              st.sampled_from([":predict", ":classify", "/metadata", "/drift", "/versions/-1", ":explode", ""])),
)


@pytest.fixture(scope="module")
def server(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("fuzz") / "m")
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, enable_batching=True, max_batch_size=16,
                            max_body_bytes=32 * 1024)
    with ModelServer([ModelConfig("m", base)], options) as server, requests.Session() as session:
        yield server, session
        answer = session.post(server.rest_url + "/v1/models/m:predict", json={"instances": ["alpha xa xb"]}, timeout=30)
        assert answer.status_code == 200  # still serving after the fuzzing


def check(response: requests.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert isinstance(response.json()["error"], str)


@FUZZ
@given(payload=payloads, path=paths,
       key=st.one_of(st.none(), st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=10)))
def test_structured_garbage_is_a_4xx(server, payload, path, key):
    server, session = server
    headers = {"X-Mtlflow-Key": key} if key else {}
    check(session.post(server.rest_url + path, data=json.dumps(payload), headers=headers, timeout=30))


@FUZZ
@given(body=st.binary(max_size=300), method=st.sampled_from(["POST", "GET", "PUT", "DELETE"]), path=paths)
def test_raw_bytes_are_a_4xx(server, body, method, path):
    server, session = server
    check(session.request(method, server.rest_url + path, data=body, timeout=30))
