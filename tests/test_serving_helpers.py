"""Helpers shared by the serving tests (no tests here).

Every serving test serves the session's ``trained_synthetic`` run (conftest.py: five task
types, trained once per session in seconds), whose ``export/1`` the training wrote.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from conftest import synthetic_rows

TEXTS = ["w1 beta mred yes up up xa xb w3 town", "gamma w5 w6", "unseen words only here", "alpha town w2 mgreen"]


def texts(n: int, seed: int) -> list[str]:
    """``n`` in-distribution texts (the synthetic corpus' generator)."""
    return [row["text"] for row in synthetic_rows(n, seed=seed)]


def make_base(run, root: Path, versions=(1,)) -> Path:
    """A base path holding copies of the run's export as the given versions."""
    root.mkdir(parents=True, exist_ok=True)
    for version in versions:
        shutil.copytree(run.directory / "export" / "1", root / str(version))
    return root


def in_process(run, batch: list[str]) -> dict[str, np.ndarray]:
    """The in-process model's outputs (``run.inference().serve``) as NumPy."""
    import tensorflow as tf

    module = getattr(run, "_serving_test_module", None)
    if module is None:
        module = run._serving_test_module = run.inference()
    return {k: v.numpy() for k, v in module.serve({"text": tf.constant(batch)}).items()}


def as_json(value: np.ndarray):
    """What the REST API returns for an output: strings decoded, nested lists."""
    if value.dtype == object:
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(value).tolist() if value.size else value.tolist()
    return value.tolist()


def assert_outputs_equal(got: dict, expected: dict[str, np.ndarray]) -> None:
    """REST/gRPC outputs (JSON values or arrays) equal the in-process ones."""
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))
    for key, value in expected.items():
        if value.dtype == object:
            want = as_json(value)
            have = got[key].tolist() if isinstance(got[key], np.ndarray) else got[key]
            have = [[x.decode() if isinstance(x, bytes) else x for x in row] if isinstance(row, list) else
                    (row.decode() if isinstance(row, bytes) else row) for row in have]
            assert have == want, key
        else:
            np.testing.assert_allclose(np.asarray(got[key], dtype=np.float64), value, rtol=1e-5, atol=1e-6, err_msg=key)
