"""Run exported SavedModels in one long-lived process that imports TensorFlow and nothing of mtlflow.

What a TF Serving user has: the SavedModel and TensorFlow. The worker reads one JSON request per
line on stdin (``{"export": DIR, "batches": [{column: [values]}, ...]}``), runs the
``serving_default`` signature on every batch and answers one JSON line with every batch's
outputs (strings decoded as :func:`as_plain`, numbers as lists; NaN stays NaN). It checks after
every load that no forbidden module got imported. One process serves every model of a test
module: TensorFlow is imported once, not once per model or batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    forbidden = tuple(json.loads(sys.argv[1]))
    loaded = {}

    def plain(value):
        value = value.numpy()
        if value.dtype == object:
            return np.vectorize(lambda b: b.decode("utf-8", "backslashreplace"), otypes=[object])(value).tolist()
        return value.tolist()

    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["export"] not in loaded:
                loaded[request["export"]] = tf.saved_model.load(request["export"])
            bad = [m for m in sys.modules if m.startswith(forbidden)]
            assert not bad, f"loading the SavedModel imported {bad[:3]}"
            fn = loaded[request["export"]].signatures["serving_default"]
            specs = fn.structured_input_signature[1]
            answers = []
            for batch in request["batches"]:
                inputs = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in batch.items()}
                answers.append({k: plain(v) for k, v in fn(**inputs).items()})
            reply = {"outputs": answers}
        except Exception as exc:  # reported to the test, which fails with it
            reply = {"error": f"{type(exc).__name__}: {exc}"[:3000]}
        sys.stdout.write(json.dumps(reply) + "\\n")
        sys.stdout.flush()
    """
)


class PlainTensorFlow:
    """A worker process; ``serve(export_dir, batches)`` → one outputs dict per batch."""

    def __init__(self, forbidden: tuple[str, ...] = ("mtlflow", "keras_hub")):
        self.process = subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(forbidden)], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, encoding="utf-8")

    def serve(self, export_dir, batches: list[dict]) -> list[dict]:
        self.process.stdin.write(json.dumps({"export": str(export_dir), "batches": batches}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        assert line, f"the plain TensorFlow process ended (exit code {self.process.poll()})"
        reply = json.loads(line)
        assert "error" not in reply, reply.get("error")
        return reply["outputs"]

    def close(self) -> None:
        self.process.stdin.close()  # the worker's loop ends; no need to wait for TensorFlow's teardown
        self.process.terminate()
        self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def as_plain(value: np.ndarray):
    """An in-process output as the worker returns it: strings decoded, nested lists."""
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8", "backslashreplace"), otypes=[object])(value).tolist()
    return value.tolist()


def assert_same_outputs(served: dict, local: dict[str, np.ndarray], where: str = "") -> None:
    """Plain-TensorFlow outputs equal the in-process ones: strings exactly, numbers to 1e-5."""
    assert set(served) == set(local), sorted(set(served) ^ set(local))
    for key, value in local.items():
        if value.dtype == object:
            assert served[key] == as_plain(value), f"{where}{key}"
        else:
            np.testing.assert_allclose(np.asarray(served[key], np.float64).reshape(value.shape), value,
                                       rtol=1e-5, atol=1e-6, err_msg=f"{where}{key}")
