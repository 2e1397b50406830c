"""Precomputed sentence vectors as the shared input (the classic 768-d embedding pattern)."""

import json

import numpy as np
import tensorflow as tf

from mtlflow.run import train

CONFIG = """
data: {train: train.jsonl, test: test.jsonl, validation_split: 0.1}
inputs: {dense: {column: vector, dim: 16}}
encoder: {mlp: [32, 16], dropout: 0.0}
tasks:
  - {name: intent, type: multiclass}
  - {name: sentiment, type: multiclass, weight: 0.5}
training: {epochs: 15, batch_size: 64, learning_rate: 0.01, seed: 1, early_stopping: null}
"""


def rows(n, seed, centers):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        intent, sentiment = rng.integers(0, 4), rng.integers(0, 3)
        vector = centers[intent] + 0.5 * centers[4 + sentiment] + rng.normal(0, 0.3, 16)
        out.append({"vector": vector.round(4).tolist(), "intent": f"i{intent}",
                    "sentiment": None if rng.random() < 0.3 else f"s{sentiment}"})
    return out


def test_dense_vectors_train_and_export(tmp_path):
    centers = np.random.default_rng(0).normal(0, 1, (7, 16))
    for name, n, seed in (("train", 1200, 1), ("test", 300, 2)):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows(n, seed, centers)), "utf-8")
    (tmp_path / "config.yaml").write_text(CONFIG, "utf-8")
    run, metrics = train(tmp_path / "config.yaml", tmp_path / "run", verbose=False)
    assert metrics["intent"]["accuracy"] > 0.9      # chance 0.25
    assert metrics["sentiment"]["accuracy"] > 0.7   # chance 0.33
    assert 150 < metrics["sentiment"]["count"] < 260  # ~30% of 300 unlabelled

    vectors = tf.constant(np.stack([centers[2], centers[0]]).astype(np.float32))
    served = tf.saved_model.load(str(run.directory / "export" / "1")).signatures["serving_default"](vector=vectors)
    np.testing.assert_allclose(served["intent_probabilities"].numpy(),
                               run.inference().serve({"vector": vectors})["intent_probabilities"].numpy(),
                               rtol=1e-5, atol=1e-6)
    assert [v.decode() for v in served["intent_label"].numpy()] == ["i2", "i0"]
