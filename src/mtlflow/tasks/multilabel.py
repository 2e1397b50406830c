"""Multi-label classification: L independent sigmoid outputs, per-label thresholds."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config.task_types import MultilabelSpec
from mtlflow.evaluate import metrics as M
from mtlflow.tasks.base import LabelError, Task, as_text
from mtlflow.tasks.inventory import InventoryMixin, build_inventory


class MultilabelTask(InventoryMixin, Task):
    """``p_l = sigmoid(w_l·h + b_l)``; loss ``mean_l BCE(y_l, p_l)``; predict ``p_l ≥ t_l``."""

    type_name = "multilabel"
    spec_class = MultilabelSpec
    label_dtype = "float32"

    def __init__(self, spec: MultilabelSpec):
        super().__init__(spec)
        self.labels = spec.labels or []

    def _split(self, value: Any, location: str) -> list[str] | None:
        if value is None:
            return None
        if isinstance(value, str):
            return [v.strip() for v in value.split(self.spec.separator) if v.strip()]
        if isinstance(value, (list, tuple)):
            return [as_text(v) for v in value]
        raise LabelError(
            f"{location}: task {self.name!r}: expected a list of labels or a "
            f"{self.spec.separator!r}-separated string, got {value!r}"
        )

    def fit(self, values):
        seen = []
        for value in values:
            try:
                seen.extend(self._split(value, "") or [])
            except LabelError:
                continue  # encode() reports it with its location
        self.labels = build_inventory(seen, self.spec.labels)

    @property
    def thresholds(self) -> np.ndarray:
        t = self.spec.threshold
        if isinstance(t, dict):
            unknown = sorted(set(t) - set(self.labels))
            if unknown:
                raise LabelError(
                    f"tasks.{self.name}.threshold names unknown labels {unknown}; known: "
                    f"{', '.join(self.labels)}"
                )
            return np.array([t.get(label, 0.5) for label in self.labels], np.float32)
        return np.full(len(self.labels), t, np.float32)

    def encode(self, value: Any, location: str):
        names = self._split(value, location)
        target = np.zeros(len(self.labels), np.float32)
        if names is None:
            return target, 0.0
        for name in names:
            target[self.index_of(name, location)] = 1.0
        return target, 1.0

    def missing_label(self):
        return np.zeros(len(self.labels), np.float32)

    def build_head(self, x):
        x = self.tower(x)
        return keras.layers.Dense(len(self.labels), activation="sigmoid", name=self.name)(x)

    def per_example_loss(self, y_true, y_pred):
        return keras.losses.binary_crossentropy(keras.ops.cast(y_true, y_pred.dtype), y_pred)

    def evaluate(self, y_true, y_pred):
        predicted = (y_pred >= self.thresholds).astype(np.float32)
        scores = M.multilabel_f1(y_true, predicted)
        return {**scores, "exact_match": M.exact_match_ratio(y_true, predicted)}

    def correct(self, y_true, y_pred):
        return np.all((y_pred >= self.thresholds) == (y_true >= 0.5), axis=-1)

    def serving_outputs(self, y_pred, tokens=None):
        chosen = y_pred >= tf.constant(self.thresholds)
        names = tf.broadcast_to(tf.constant(self.labels), tf.shape(chosen))
        return {
            f"{self.name}_probabilities": y_pred,
            f"{self.name}_labels": tf.where(chosen, names, ""),
        }

    def decode(self, outputs, index, tokens=None):
        probabilities = outputs[f"{self.name}_probabilities"][index]
        chosen = [as_text(v) for v in outputs[f"{self.name}_labels"][index] if as_text(v)]
        return {
            "labels": chosen,
            "probabilities": {l: float(p) for l, p in zip(self.labels, probabilities)},
        }
