"""Dynamic batching: concurrent requests share one call, each gets exactly its own rows back."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest

from mtlflow.serving import Batcher, ServingError
from mtlflow.serving.batching import split_outputs

PADDING = {"t_tags": {"group": "t/tokens", "pad": ""}, "t_scores": {"group": "t/tokens", "pad": 0.0},
           "t_starts": {"group": "t/spans", "pad": -1}}


def test_split_trims_padded_outputs_per_request_and_group():
    outputs = {
        "t_tags": np.array([[b"O", b"B", b""], [b"O", b"", b""], [b"O", b"O", b"B"]], dtype=object),
        "t_scores": np.array([[0.9, 0.0, 0.0], [0.8, 0.0, 0.0], [0.7, 0.6, 0.5]]),  # a real 0.0 score in row 0
        "t_starts": np.array([[1, -1], [-1, -1], [0, 2]]),
        "label": np.array([b"a", b"b", b"c"], dtype=object),
    }
    first, second = split_outputs(outputs, [2, 1], PADDING)
    assert first["t_tags"].tolist() == [[b"O", b"B"], [b"O", b""]]
    assert first["t_scores"].tolist() == [[0.9, 0.0], [0.8, 0.0]]  # cut with its group, not by its own zeros
    assert first["t_starts"].tolist() == [[1], [-1]]
    assert first["label"].tolist() == [b"a", b"b"]
    assert second["t_tags"].shape == (1, 3) and second["t_starts"].tolist() == [[0, 2]]


def test_concurrent_requests_run_as_one_batch():
    calls = []

    def run(inputs):
        calls.append(len(inputs["x"]))
        time.sleep(0.01)
        return {"y": inputs["x"] * 2}

    batcher = Batcher(max_batch_size=64, batch_timeout_micros=200_000, num_batch_threads=1)
    gate = threading.Barrier(8)

    def request(i):
        gate.wait()
        x = np.full((i + 1, 2), float(i))
        return batcher.run(("k",), {"x": x}, i + 1, run, {})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(request, range(8)))
    batcher.stop()
    for i, result in enumerate(results):
        np.testing.assert_array_equal(result["y"], np.full((i + 1, 2), 2.0 * i))
    assert sum(calls) == 36 and len(calls) < 8


def test_max_batch_size_bounds_a_batch_and_a_lone_request_does_not_wait():
    calls = []
    batcher = Batcher(max_batch_size=4, batch_timeout_micros=5_000_000, num_batch_threads=1)

    def run(inputs):
        calls.append(len(inputs["x"]))
        return {"y": inputs["x"]}

    began = time.perf_counter()
    batcher.run(("k",), {"x": np.zeros((1, 1))}, 1, run, {})
    assert time.perf_counter() - began < 1.0  # nobody else was arriving: no 5 s timeout
    gate = threading.Barrier(6)

    def request(_):
        gate.wait()
        return batcher.run(("k",), {"x": np.zeros((2, 1))}, 2, run, {})

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(request, range(6)))
    batcher.stop()
    assert max(calls) <= 4 and sum(calls) == 13


def test_a_failing_batch_is_rerun_one_by_one():
    def run(inputs):
        if (inputs["x"] < 0).any():
            raise ValueError("negative input")
        return {"y": inputs["x"] + 1}

    batcher = Batcher(max_batch_size=32, batch_timeout_micros=200_000, num_batch_threads=1)
    gate = threading.Barrier(4)

    def request(i):
        gate.wait()
        try:
            return batcher.run(("k",), {"x": np.array([[-1.0 if i == 2 else float(i)]])}, 1, run, {})
        except ValueError as exc:
            return exc

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(request, range(4)))
    batcher.stop()
    assert isinstance(results[2], ValueError)
    assert [r["y"].item() for i, r in enumerate(results) if i != 2] == [1.0, 2.0, 4.0]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="max_batch_size"):
        Batcher(max_batch_size=0)


def test_a_batch_whose_split_raises_resolves_every_future_with_an_error():
    def run(inputs):
        return {"y": inputs["x"][:, 0]}  # 1-D, yet listed as padded along axis 1: splitting raises

    batcher = Batcher(max_batch_size=32, batch_timeout_micros=2_000_000, num_batch_threads=1, deadline_seconds=20)
    arrivals = [batcher.arriving().__enter__() for _ in range(4)]  # the batch waits for all four

    def request(i):
        began = time.perf_counter()
        try:
            batcher.run(("k",), {"x": np.full((2, 1), float(i))}, 2, run, {"y": {"group": "g", "pad": 0}},
                        arrivals[i])
        except Exception as exc:
            return exc, time.perf_counter() - began
        return None, time.perf_counter() - began

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(request, range(4)))
    batcher.stop()
    errors = [exc for exc, _ in results]
    assert all(isinstance(e, ServingError) and e.code == grpc.StatusCode.INTERNAL for e in errors), errors
    assert "IndexError" in str(errors[0])
    assert all(seconds < 10 for _, seconds in results)  # answered, not left to the deadline


def test_a_stuck_batch_ends_at_the_deadline_and_is_counted():
    release = threading.Event()
    missed = []

    def run(inputs):
        release.wait(10)
        return {"y": inputs["x"]}

    batcher = Batcher(max_batch_size=8, batch_timeout_micros=0, num_batch_threads=1, deadline_seconds=0.3,
                      on_deadline=missed.append)
    began = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(batcher.run, ("k",), {"x": np.zeros((1, 1))}, 1, run, {})
        time.sleep(0.05)
        second = pool.submit(batcher.run, ("k",), {"x": np.ones((1, 1))}, 1, run, {})  # queued behind it
        for future in (first, second):
            with pytest.raises(ServingError) as info:
                future.result(timeout=5)
            assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED and info.value.http_status == 503
    assert time.perf_counter() - began < 2
    assert missed == [("k",), ("k",)]
    release.set()
    np.testing.assert_array_equal(batcher.run(("k",), {"x": np.full((1, 1), 3.0)}, 1, run, {})["y"], [[3.0]])
    batcher.stop()
