"""Missing, NaN, infinite, absurd and unseen tabular values at serving time get a defined answer.

The documented paths: a missing number (NaN, JSON ``null`` through ``predict``) is the
column's training mean; numbers are clipped to ±1000 training standard deviations
(``±inf`` included); a categorical value not seen in training takes the unseen id, and a
missing one (``""``, ``null``) the missing id. Hypothesis draws such batches for the ESMM
and census MMoE example configs (their columns, tasks and sharing; small generated data,
untrained weights) and checks finite outputs, the defined answers, and the same outputs
from the SavedModel run by plain TensorFlow (no mtlflow imported).
"""

from __future__ import annotations

import csv
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plain_tf import PlainTensorFlow, assert_same_outputs
from untrained_export import export_untrained

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
UNSEEN = "\u2400 a value no training row has"
FAST = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(FAST, max_examples=200)


def _census_rows(columns: dict, n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        row = {c: f"{rng.gauss(40, 15):.1f}" for c in columns["numeric"]}
        row.update({c: rng.choice([f"{c}_{k}" for k in range(4)] + [""]) for c in columns["categorical"]})
        row.update(income=int(rng.random() < 0.2), never_married=int(rng.random() < 0.4))
        rows.append(row)
    return rows


def _write_data(name: str, config: dict, directory: Path) -> None:
    (directory / "data").mkdir(parents=True)
    for seed, split in enumerate(("train", "validation", "test")):
        path = directory / "data" / f"{split}.csv"
        if name == "esmm":
            from mtlflow.data.synthetic_ctr import ctr_cvr_synthetic, write_csv

            write_csv(ctr_cvr_synthetic(200, cardinality=6, seed=seed), path)
            continue
        rows = _census_rows(config["inputs"], 120, seed)
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.fixture(scope="module")
def plain_tf():
    with PlainTensorFlow() as worker:
        yield worker


@pytest.fixture(scope="module", params=["esmm", "census_mmoe"])
def model(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(request.param)
    shutil.copy(EXAMPLES / request.param / "config.yaml", directory / "config.yaml")
    config = yaml.safe_load((directory / "config.yaml").read_text("utf-8"))
    _write_data(request.param, config, directory)
    return export_untrained(directory / "config.yaml", directory / "run")


def _columns(run):
    inputs = run.config.inputs
    return list(inputs.numeric), list(inputs.categorical)


@st.composite
def tabular_batches(draw, numeric: list[str], categorical: list[str], seen: dict[str, list[str]]):
    n = draw(st.integers(1, 5))
    numbers = st.one_of(st.floats(width=32), st.just(math.nan), st.sampled_from([math.inf, -math.inf, 3.4e38, -1e-45]),
                        st.floats(-100, 100, width=32))
    batch = {c: draw(st.lists(numbers, min_size=n, max_size=n)) for c in numeric}
    for c in categorical:
        values = st.one_of(st.sampled_from(seen[c]), st.just(""), st.text(max_size=8), st.just(UNSEEN))
        batch[c] = draw(st.lists(values, min_size=n, max_size=n))
    return batch


def _serve(module, batch: dict) -> dict[str, np.ndarray]:
    raw = {k: tf.constant(v, module.signature[k].dtype) for k, v in batch.items()}
    return {k: v.numpy() for k, v in module.serve(raw).items()}


def _defined(run, batch: dict) -> dict:
    """The batch with every value replaced by the one its documented path gives it."""
    out = {}
    for c, values in batch.items():
        if c in run.vocab.numeric_mean:  # NaN → the mean; beyond ±1000 standard deviations → that bound
            mean, std = run.vocab.numeric_mean[c], run.vocab.numeric_std[c]
            out[c] = [mean if math.isnan(v) else min(max(v, mean - 1000 * std), mean + 1000 * std) for v in values]
        else:
            known = set(run.vocab.categorical[c][2:])
            out[c] = [v if v in known or v == "" else UNSEEN for v in values]
    return out


def check_outputs(run, out: dict[str, np.ndarray], n: int) -> None:
    for name, task in run.tasks.items():
        probability = out[f"{name}_probability"]
        assert probability.shape == (n,) and np.isfinite(probability).all(), name
        assert ((probability >= 0) & (probability <= 1)).all(), name
    if "ctcvr" in run.tasks:  # ESMM: pCTCVR = pCTR × pCVR
        # atol: a product below float32's normal range (1e-38) may be flushed to 0
        np.testing.assert_allclose(out["ctcvr_probability"], out["ctr_probability"] * out["cvr_probability"],
                                   rtol=1e-5, atol=1e-30)


def _property_test(profile):
    def test(model, plain_tf):
        run, export_dir, module = model
        numeric, categorical = _columns(run)
        seen_values = {c: run.vocab.categorical[c][2:] for c in categorical}
        probe = {c: [math.nan] for c in numeric} | {c: [""] for c in categorical}
        seen = []

        @profile
        @given(tabular_batches(numeric, categorical, seen_values))
        @example(probe)
        @example({c: [math.inf, -math.inf] for c in numeric} | {c: ["never seen", ""] for c in categorical})
        def check(batch):
            out = _serve(module, batch)
            n = len(batch[numeric[0]])
            check_outputs(run, out, n)
            defined = _serve(module, _defined(run, batch))
            for key, value in out.items():
                np.testing.assert_allclose(value, defined[key], rtol=1e-5, atol=1e-6, err_msg=key)
            seen.append((batch, out))

        check()
        served = plain_tf.serve(export_dir, [batch for batch, _ in seen])
        for (batch, local), exported in zip(seen, served):
            assert_same_outputs(exported, local, where=f"{batch!r}: ")

    return test


test_any_tabular_batch_has_a_defined_answer = _property_test(FAST)
test_any_tabular_batch_long_profile = pytest.mark.slow(_property_test(LONG))


def test_predict_reads_null_as_missing(model):
    run, _, module = model
    numeric, categorical = _columns(run)
    nulls = module.predict({c: [None] for c in numeric + categorical})
    missing = module.predict({c: [math.nan] for c in numeric} | {c: [""] for c in categorical})
    assert nulls == missing
    means = module.predict({c: [run.vocab.numeric_mean[c]] for c in numeric} | {c: [""] for c in categorical})
    for name in run.tasks:
        assert nulls[0][name]["probability"] == pytest.approx(means[0][name]["probability"], rel=1e-6)


def test_rest_answers_nan_infinite_and_unseen_values(model, tmp_path):
    """Over REST: ``NaN``/``Infinity`` (JSON extensions TF Serving's clients send) and unseen categories get 200."""
    import json

    import requests

    from mtlflow.serving import ModelConfig, ModelServer, ServerOptions

    run, export_dir, module = model
    numeric, categorical = _columns(run)
    shutil.copytree(export_dir, tmp_path / "m" / "1")
    rows = [{c: math.nan for c in numeric} | {c: "" for c in categorical},
            {c: math.inf for c in numeric} | {c: UNSEEN for c in categorical},
            {c: None for c in numeric + categorical}]  # JSON null: missing, as NaN and ""
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0)
    with ModelServer([ModelConfig("m", tmp_path / "m")], options) as server:
        body = json.dumps({"instances": rows})  # NaN and Infinity as JSON's NaN / Infinity tokens
        response = requests.post(server.rest_url + "/v1/models/m:predict", data=body, timeout=30)
    assert response.status_code == 200, response.text
    rows[2] = rows[0]
    local = _serve(module, {c: [row[c] for row in rows] for c in numeric + categorical})
    for name in run.tasks:
        got = [p[f"{name}_probability"] for p in response.json()["predictions"]]
        assert got[2] == got[0]
        np.testing.assert_allclose(got, local[f"{name}_probability"], rtol=1e-5)
        assert np.isfinite(got).all()
