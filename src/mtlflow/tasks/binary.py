"""Binary classification: one sigmoid output, binary cross-entropy loss."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config.task_types import BinarySpec
from mtlflow.evaluate import metrics as M
from mtlflow.tasks.base import LabelError, Task, as_text

_TRUE = {"1", "1.0", "true", "yes", "y", "t", "pos", "positive"}
_FALSE = {"0", "0.0", "false", "no", "n", "f", "neg", "negative"}


class BinaryTask(Task):
    """``p = sigmoid(w·h + b)``; loss ``-[y log p + (1-y) log(1-p)]``."""

    type_name = "binary"
    spec_class = BinarySpec
    label_dtype = "float32"

    def encode(self, value: Any, location: str):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return 0.0, 0.0
        key = as_text(value).strip().lower()
        if self.spec.positive is not None:
            return float(key == self.spec.positive.lower()), 1.0
        if isinstance(value, bool) or key in _TRUE | _FALSE:
            return float(value is True or key in _TRUE), 1.0
        raise LabelError(
            f"{location}: task {self.name!r}: {value!r} is not a binary label (use 0/1, true/false, "
            f"yes/no), or set tasks.{self.name}.positive to the value that means yes"
        )

    def missing_label(self):
        return 0.0

    def build_head(self, x):
        x = self.tower(x)
        return keras.layers.Dense(1, activation="sigmoid", name=self.name)(x)

    def per_example_loss(self, y_true, y_pred):
        y_true = keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), (-1, 1))
        return keras.losses.binary_crossentropy(y_true, y_pred)

    def evaluate(self, y_true, y_pred):
        p = np.reshape(y_pred, (-1,))
        return {
            "auc": M.roc_auc(y_true, p),
            "log_loss": M.log_loss(y_true, p),
            "accuracy": M.accuracy(y_true, (p >= self.spec.threshold).astype(y_true.dtype)),
        }

    def correct(self, y_true, y_pred):
        return (np.reshape(y_pred, (-1,)) >= self.spec.threshold) == (y_true >= 0.5)

    def serving_outputs(self, y_pred, tokens=None):
        p = tf.reshape(y_pred, [-1])
        return {
            f"{self.name}_probability": p,
            f"{self.name}_label": tf.cast(p >= self.spec.threshold, tf.int32),
        }

    def decode(self, outputs, index, tokens=None):
        return {
            "label": int(outputs[f"{self.name}_label"][index]),
            "probability": float(outputs[f"{self.name}_probability"][index]),
        }
