"""Size limits checked on declared shapes before decoding, on both front ends."""

import os
import threading
import time

import grpc
import pytest
import requests
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import make_base

PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def server(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("limits") / "m")
    options = ServerOptions(rest_port=0, grpc_port=0, poll_seconds=0, max_request_rows=64,
                            max_request_elements=256, max_string_bytes=1000)
    with ModelServer([ModelConfig("m", base)], options) as server:
        channel = grpc.insecure_channel(server.grpc_target)
        yield server, prediction_service_pb2_grpc.PredictionServiceStub(channel)
        channel.close()


def claim(dims: list[int], values: list[bytes]) -> predict_pb2.PredictRequest:
    tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=values,
                                    tensor_shape=tensor_shape_pb2.TensorShapeProto(
                                        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in dims]))
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "m"
    request.inputs["text"].CopyFrom(tensor)
    return request


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


def test_a_50_million_row_claim_is_refused_fast_without_allocating(server):
    _, stub = server
    request = claim([50_000_000], [b"a"])
    assert request.ByteSize() < 40
    peak, stop = [rss()], threading.Event()

    def watch():
        while not stop.is_set():
            peak.append(rss())
            time.sleep(0.002)

    watcher = threading.Thread(target=watch)
    before = rss()
    watcher.start()
    began = time.perf_counter()
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(request, timeout=30)
    elapsed = time.perf_counter() - began
    stop.set()
    watcher.join()
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "50000000 rows; the limit is 64" in info.value.details()
    assert elapsed < 1.0, elapsed
    assert max(peak) - before < 50 * 2**20, (max(peak) - before) / 2**20


@pytest.mark.parametrize("dims, values, words", [
    ([8, 40], [b"a"] * 320, "320 values"),  # rows fit, elements do not
    ([3], [b"a"], "declares 3 strings but 1 are given"),  # no fill from one value
    ([2], [b"a", b"x" * 1001], "1001 bytes"),
    ([-1], [], "negative"),
])
def test_grpc_declared_sizes_are_checked(server, dims, values, words):
    _, stub = server
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(claim(dims, values), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in info.value.details()


@pytest.mark.parametrize("payload, words", [
    ({"instances": ["a b"] * 65}, "65 rows; the limit is 64"),
    ({"inputs": {"text": ["x" * 1001]}}, "1001 bytes"),
    ({"instances": [{"b64": "eHh4" * 400}]}, "1200 bytes"),
    ({"examples": [{"text": "a"}] * 65, "signature_name": "predict_topic"}, "65 examples"),
])
def test_rest_declared_sizes_are_checked(server, payload, words):
    rest, _ = server
    verb = "classify" if "examples" in payload else "predict"
    response = requests.post(f"{rest.rest_url}/v1/models/m:{verb}", json=payload, timeout=30)
    assert response.status_code == 400, response.text
    assert words in response.json()["error"]


def test_within_the_limits_is_served(server):
    rest, stub = server
    assert stub.Predict(claim([2], [b"alpha w1", b"beta w2"]), timeout=30).outputs["topic_label"].string_val == [
        b"alpha", b"beta"]
    assert requests.post(f"{rest.rest_url}/v1/models/m:predict", json={"instances": ["alpha w1"] * 64},
                         timeout=30).status_code == 200
