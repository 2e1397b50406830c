"""Tabular inputs (numeric + categorical columns in CSV) train, and export with raw columns in."""

import csv
import random

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.run import train

CONFIG = """
data: {train: train.csv, test: test.csv, validation_split: 0.15}
inputs:
  numeric: [age, income]
  categorical: [city]
encoder: {mlp: [32, 16], dropout: 0.0}
tasks:
  - {name: churn, type: binary}
  - {name: spend, type: regression}
  - {name: segment, type: multiclass}
training: {epochs: 25, batch_size: 64, learning_rate: 0.01, seed: 3, early_stopping: null}
"""
CITIES = ["beijing", "shanghai", "shenzhen", "chengdu"]


def rows(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        age, income, city = rng.uniform(18, 70), rng.lognormvariate(10, 0.5), rng.choice(CITIES)
        churn = int((age < 30) != (city == "chengdu"))
        spend = 0.002 * income + (5.0 if city == "beijing" else 0.0) + rng.gauss(0, 0.5)
        segment = "young" if age < 35 else ("rich" if income > 30000 else "other")
        out.append({"age": f"{age:.1f}", "income": f"{income:.0f}", "city": city,
                    "churn": churn if rng.random() > 0.2 else "", "spend": f"{spend:.3f}", "segment": segment})
    return out


def write_csv(path, data):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(data[0]))
        writer.writeheader()
        writer.writerows(data)


@pytest.fixture(scope="module")
def tabular_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tabular")
    write_csv(root / "train.csv", rows(1500, 1))
    write_csv(root / "test.csv", rows(400, 2))
    (root / "config.yaml").write_text(CONFIG, "utf-8")
    return train(root / "config.yaml", root / "run", verbose=False)


def test_tabular_tasks_learn(tabular_run):
    run, metrics = tabular_run
    assert metrics["churn"]["auc"] > 0.95           # chance: 0.5
    assert metrics["churn"]["count"] < 400          # empty cells are masked labels
    assert metrics["segment"]["accuracy"] > 0.85    # chance ≈ 0.4 (majority class)
    spend_std = np.std([float(r["spend"]) for r in rows(400, 2)])
    assert metrics["spend"]["rmse"] < 0.5 * spend_std


def test_export_takes_raw_columns_and_matches(tabular_run):
    run, _ = tabular_run
    loaded = tf.saved_model.load(str(run.directory / "export" / "1"))
    raw = {"age": tf.constant([25.0, 60.0]), "income": tf.constant([20000.0, 50000.0]),
           "city": tf.constant(["chengdu", "atlantis"])}  # an unseen city maps to the OOV id
    served = loaded.signatures["serving_default"](**raw)
    local = run.inference().serve(raw)
    for key in ("churn_probability", "spend_value", "segment_probabilities"):
        np.testing.assert_allclose(served[key].numpy(), local[key].numpy(), rtol=1e-5, atol=1e-6)
    assert served["segment_label"].numpy()[0] == b"young"
