"""The synthetic inpatient generator: seeded, calibrated prevalences, correlated conditions,
labs that carry the conditions, and JSONL splits that keep "no condition" as a label."""

import json

import numpy as np
import pytest

from mtlflow.data.synthetic_clinical import CATEGORICAL, CONDITIONS, NUMERIC, PREVALENCE, clinical_synthetic, write_splits


@pytest.fixture(scope="module")
def patients():
    return clinical_synthetic(20_000, seed=7)


def matrix(data) -> np.ndarray:
    return np.array([[c in cs for c in CONDITIONS] for cs in data["conditions"]], float)


def test_seeded():
    a, b, c = clinical_synthetic(300, seed=1), clinical_synthetic(300, seed=1), clinical_synthetic(300, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in NUMERIC)
    assert list(a["conditions"]) == list(b["conditions"])
    assert not np.array_equal(a["hba1c"], c["hba1c"])


def test_prevalences_are_calibrated(patients):
    observed = matrix(patients).mean(axis=0)
    for name, rate in zip(CONDITIONS, observed):
        assert abs(rate - PREVALENCE[name]) < 0.02, (name, rate)


def test_conditions_sharing_a_factor_co_occur(patients):
    phi = np.corrcoef(matrix(patients).T)
    i = {c: k for k, c in enumerate(CONDITIONS)}
    assert phi[i["diabetes"], i["hypertension"]] > 0.25  # metabolic factor
    assert phi[i["ckd"], i["anemia"]] > 0.35  # CKD raises anemia's liability
    assert phi[i["diabetes"], i["copd"]] < 0.12  # different factors: nearly independent
    assert phi[i["diabetes"], i["hypertension"]] > phi[i["diabetes"], i["copd"]] + 0.15


def test_labs_carry_the_conditions(patients):
    y = dict(zip(CONDITIONS, matrix(patients).T.astype(bool)))
    assert patients["hba1c"][y["diabetes"]].mean() - patients["hba1c"][~y["diabetes"]].mean() > 1.2
    assert np.median(patients["bnp"][y["heart_failure"]]) > 3 * np.median(patients["bnp"][~y["heart_failure"]])
    assert patients["fev1_pct"][~y["copd"]].mean() - patients["fev1_pct"][y["copd"]].mean() > 15
    assert patients["hemoglobin"][~y["anemia"]].mean() - patients["hemoglobin"][y["anemia"]].mean() > 1.5
    burden = matrix(patients).sum(axis=1)
    stay = patients["length_of_stay"]
    assert stay[burden >= 3].mean() > 1.5 * stay[burden == 0].mean()
    assert all(np.isfinite(patients[k]).all() for k in NUMERIC)


def test_write_splits_as_jsonl(tmp_path):
    paths = write_splits(tmp_path, scale=0.02)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    rows = [json.loads(line) for line in paths["train"].read_text("utf-8").splitlines()]
    assert len(rows) == 400
    assert set(rows[0]) == {*NUMERIC, *CATEGORICAL, "conditions", "length_of_stay"}
    assert any(r["conditions"] == [] for r in rows)  # "none applies" is a label, not a missing one
    assert all(set(r["conditions"]) <= set(CONDITIONS) for r in rows)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`n` must be a positive integer. Received: n=0"):
        clinical_synthetic(0)
    with pytest.raises(ValueError, match="`scale` must be positive"):
        write_splits("unused", scale=0)
