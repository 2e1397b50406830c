"""Shared pieces of the ``mtlflow.keras`` tests: a small config-built model and its batches."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

DIM = 8
TASK_LABELS = {"intent": [f"i{k}" for k in range(4)], "sentiment": ["neg", "neu", "pos"]}


def make_config(training: dict | None = None):
    from mtlflow.config import parse_config

    return parse_config({
        "data": {"train": "unused"},
        "inputs": {"dense": {"column": "vec", "dim": DIM}},
        "encoder": {"mlp": [16, 8], "dropout": 0.0},
        "tasks": [{"name": "intent", "type": "multiclass"}, {"name": "sentiment", "type": "multiclass"},
                  {"name": "flag", "type": "binary"}],
        "training": {"optimizer": "adam", "learning_rate": 0.01, "clip_norm": 1.0, "gradient_centralization": True,
                     "diagnostics_every": None, "early_stopping": None, **(training or {})},
    })


def make_tasks(config):
    from mtlflow.api import create_tasks

    return create_tasks(config, labels=TASK_LABELS)


def build(config, tasks, seed: int = 0):
    from mtlflow.data.vocabulary import Vocabularies
    from mtlflow.model.build import build_model

    keras.utils.set_random_seed(seed)
    return build_model(config, Vocabularies(), tasks)


def arrays(n: int = 96, seed: int = 0):
    """``(inputs, labels, masks)`` NumPy dicts; ~40% of sentiment and ~20% of flag labels masked."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM)).astype("float32")
    labels = {"intent": (x[:, 0] > 0).astype("int32") + 2 * (x[:, 1] > 0).astype("int32"),
              "sentiment": np.digitize(x[:, 2], [-0.5, 0.5]).astype("int32"),
              "flag": (x[:, 3] > 0).astype("int32")}
    masks = {"intent": np.ones(n, "float32"), "sentiment": (rng.random(n) > 0.4).astype("float32"),
             "flag": (rng.random(n) > 0.2).astype("float32")}
    return {"dense": x}, labels, masks


def dataset(batch_size: int = 32, n: int = 96, seed: int = 0) -> tf.data.Dataset:
    return tf.data.Dataset.from_tensor_slices(arrays(n, seed)).batch(batch_size)
