"""Regression of one real value: linear head, squared error on the standardised target."""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config.task_types import RegressionSpec
from mtlflow.evaluate import metrics as M
from mtlflow.tasks.base import LabelError, Task


class RegressionTask(Task):
    """``ŷ = μ + σ·(w·h + b)``; loss ``((y - ŷ)/σ)²`` (μ=0, σ=1 without ``normalize``)."""

    type_name = "regression"
    spec_class = RegressionSpec
    label_dtype = "float32"

    def __init__(self, spec):
        super().__init__(spec)
        self.mean, self.std = 0.0, 1.0

    def fit(self, values):
        numbers = []
        for value in values:
            try:
                number = self._parse(value, "")
            except LabelError:
                continue  # encode() reports it with its location
            if number is not None:
                numbers.append(number)
        if self.spec.normalize and numbers:
            self.mean = float(np.mean(numbers))
            self.std = float(np.std(numbers)) or 1.0

    def state(self):
        return {"mean": self.mean, "std": self.std}

    def load_state(self, state):
        self.mean, self.std = float(state["mean"]), float(state["std"])

    def _parse(self, value: Any, location: str) -> float | None:
        """The value as a finite float, None when missing (empty); LabelError otherwise."""
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if isinstance(value, bool) or not math.isfinite(number):
            raise LabelError(
                f"{location}: task {self.name!r}: {value!r} is not a finite number; fix the value "
                "or leave it empty (null) to mark the label missing"
            )
        return number

    def encode(self, value: Any, location: str):
        number = self._parse(value, location)
        return (0.0, 0.0) if number is None else (number, 1.0)

    def missing_label(self):
        return 0.0

    def build_head(self, x):
        x = self.tower(x)
        z = keras.layers.Dense(1, name=f"{self.name}_standardized")(x)
        return keras.layers.Rescaling(self.std, offset=self.mean, name=self.name)(z)

    def per_example_loss(self, y_true, y_pred):
        y_true = keras.ops.reshape(keras.ops.cast(y_true, y_pred.dtype), (-1,))
        error = (y_true - keras.ops.reshape(y_pred, (-1,))) / self.std
        return keras.ops.square(error)

    def evaluate(self, y_true, y_pred):
        y_pred = np.reshape(y_pred, (-1,))
        return {"rmse": M.rmse(y_true, y_pred), "mae": M.mae(y_true, y_pred)}

    def serving_outputs(self, y_pred, tokens=None):
        return {f"{self.name}_value": tf.reshape(y_pred, [-1])}

    def decode(self, outputs, index, tokens=None):
        return {"value": float(outputs[f"{self.name}_value"][index])}
