"""Single-label classification over K classes: softmax head, cross-entropy loss."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config.task_types import MulticlassSpec
from mtlflow.evaluate import metrics as M
from mtlflow.tasks.base import Task, as_text
from mtlflow.tasks.inventory import InventoryMixin, build_inventory


class MulticlassTask(InventoryMixin, Task):
    """Softmax over K classes; loss ``-log p(y|x)`` (sparse categorical cross-entropy), or
    with ``label_smoothing: ε`` the cross-entropy against ``(1-ε)·onehot(y) + ε/K``."""

    type_name = "multiclass"
    spec_class = MulticlassSpec
    label_dtype = "int32"

    def __init__(self, spec: MulticlassSpec):
        super().__init__(spec)
        self.labels = spec.labels or []

    def fit(self, values):
        self.labels = build_inventory((str(v) for v in values if v is not None), self.spec.labels)

    def encode(self, value: Any, location: str):
        if value is None:
            return 0, 0.0
        return self.index_of(value, location), 1.0

    def missing_label(self):
        return 0

    def build_head(self, x):
        x = self.tower(x)
        return keras.layers.Dense(len(self.labels), activation="softmax", name=self.name)(x)

    def per_example_loss(self, y_true, y_pred):
        smoothing = self.spec.label_smoothing
        if not smoothing:
            return keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        onehot = keras.ops.one_hot(keras.ops.cast(y_true, "int32"), len(self.labels), dtype=y_pred.dtype)
        target = (1.0 - smoothing) * onehot + smoothing / len(self.labels)
        return keras.losses.categorical_crossentropy(target, y_pred)

    def evaluate(self, y_true, y_pred):
        predicted = np.argmax(y_pred, axis=-1)
        return {
            "accuracy": M.accuracy(y_true, predicted),
            "macro_f1": M.macro_f1(y_true, predicted),
        }

    def correct(self, y_true, y_pred):
        return np.argmax(y_pred, axis=-1) == y_true

    def serving_outputs(self, y_pred, tokens=None):
        names = tf.constant(self.labels)
        best = tf.argmax(y_pred, axis=-1, output_type=tf.int32)
        return {
            f"{self.name}_probabilities": y_pred,
            f"{self.name}_label": tf.gather(names, best),
            f"{self.name}_score": tf.reduce_max(y_pred, axis=-1),
        }

    def decode(self, outputs, index, tokens=None):
        probabilities = outputs[f"{self.name}_probabilities"][index]
        return {
            "label": as_text(outputs[f"{self.name}_label"][index]),
            "score": float(outputs[f"{self.name}_score"][index]),
            "probabilities": {l: float(p) for l, p in zip(self.labels, probabilities)},
        }
