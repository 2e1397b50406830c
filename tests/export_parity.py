"""Serve an exported SavedModel in a fresh process that never imports mtlflow, and compare.

Shared by the export-parity tests: ``serve_in_fresh_process`` loads ``serving_default`` with
plain TensorFlow (and fails if any forbidden module got imported), ``assert_same_outputs``
checks its outputs against the in-process model's, strings exactly, numbers to 1e-5.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np

LOADER = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    fn = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
    out = fn(text=tf.constant(json.loads(sys.argv[2])))
    forbidden = tuple(json.loads(sys.argv[3]))
    assert not any(m.startswith(forbidden) for m in sys.modules), f"one of {forbidden} was imported"
    print(json.dumps({k: v.numpy().tolist() if v.dtype != tf.string else
                      [[b.decode() for b in row] if v.shape.rank == 2 else row.decode() for row in v.numpy()]
                      for k, v in out.items()}))
    """
)


def serve_in_fresh_process(export_dir, texts: list[str], forbidden: tuple[str, ...] = ("mtlflow",)) -> dict:
    """``serving_default(text=texts)`` of ``export_dir``, run by plain TensorFlow in a new process."""
    result = subprocess.run([sys.executable, "-c", LOADER, str(export_dir), json.dumps(texts), json.dumps(forbidden)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_process_outputs(run, texts: list[str]) -> dict:
    import tensorflow as tf

    return {k: v.numpy() for k, v in run.inference().serve({"text": tf.constant(texts)}).items()}


def assert_same_outputs(served: dict, local: dict) -> None:
    assert set(served) == set(local)
    for key, value in local.items():
        if value.dtype.kind in "SO":
            assert [[x.decode() for x in row] if value.ndim == 2 else row.decode() for row in value] == served[key], key
        else:
            np.testing.assert_allclose(np.asarray(served[key]), value, rtol=1e-5, atol=1e-6, err_msg=key)
