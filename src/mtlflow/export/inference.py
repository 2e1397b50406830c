"""Raw inputs → every task's decoded outputs in one forward pass, as one ``tf.Module``.

The same module serves ``mtlflow predict`` in-process and is what the SavedModel exports
as its ``serving_default`` signature (every task) and ``predict_<task>`` signatures (one
task each), so both give the same answers.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.errors import MtlflowError
from mtlflow.model.preprocessor import Preprocessor


class InferenceModule(tf.Module):
    """``serve(**raw_columns) -> {<task>_<output>: tensor}`` (see each task's ``serving_outputs``).

    Outputs per task type: multiclass ``_probabilities``, ``_label``, ``_score``;
    multilabel ``_probabilities``, ``_labels``; binary ``_probability``, ``_label``;
    regression ``_value``; tagging ``_tags``, ``_tag_scores``, ``_span_types``,
    ``_span_texts``, ``_span_starts``, ``_span_ends``.
    """

    def __init__(self, preprocessor: Preprocessor, model, tasks: dict):
        super().__init__(name="mtlflow")
        self.preprocessor = preprocessor
        self.model = model
        self._task_objects = tuple(tasks.values())  # plain Python, not tracked
        self.serve = tf.function(self._serve, input_signature=[preprocessor.raw_signature])

    @property
    def signature(self) -> dict[str, tf.TensorSpec]:
        """Raw input columns (a fresh dict: tf.Module would wrap a stored one)."""
        return self.preprocessor.raw_signature

    def _serve(self, raw):
        return self._outputs(raw, self._task_objects)

    def _outputs(self, raw, tasks):
        predictions = self.model(self.preprocessor(raw), training=False)
        text = self.preprocessor.inputs.text
        view = self.preprocessor.token_view(raw[text.column]) if text else None
        outputs = {}
        for task in tasks:
            outputs.update(task.serving_outputs(predictions[task.name], view))
        return outputs

    def task_function(self, name: str):
        """``serve`` restricted to one task's outputs (the ``predict_<task>`` signature)."""
        task = next((t for t in self._task_objects if t.name == name), None)
        if task is None:
            known = ", ".join(t.name for t in self._task_objects)
            raise MtlflowError(f"unknown task {name!r}; the model has {known}")
        return tf.function(lambda raw: self._outputs(raw, (task,)), input_signature=[self.signature])

    def signatures(self) -> dict:
        """Concrete functions to export: ``serving_default`` and ``predict_<task>`` per task."""
        signatures = {"serving_default": self.serve.get_concrete_function()}
        for task in self._task_objects:
            signatures[f"predict_{task.name}"] = self.task_function(task.name).get_concrete_function()
        return signatures

    def predict(self, columns: dict[str, list]) -> list[dict]:
        """Decoded predictions for a batch of raw columns, one dict per example.

        ``None`` is a missing value: ``""`` in a string column (an empty text; a categorical
        column's "missing" id), NaN in a number column (the training mean, see
        :func:`~mtlflow.model.preprocessor.standardize`).
        """
        raw = {}
        for name, spec in self.signature.items():
            try:
                values = columns[name]
                if spec.dtype == tf.string and spec.shape.rank == 1:
                    values = ["" if v is None else v for v in values]
                if spec.dtype == tf.float32:
                    values = np.asarray(values, dtype=np.float32)
                raw[name] = tf.ensure_shape(tf.constant(values, dtype=spec.dtype), spec.shape)
            except KeyError:
                raise MtlflowError(f"input column {name!r} is missing; the model takes {', '.join(self.signature)}") from None
            except (TypeError, ValueError, tf.errors.InvalidArgumentError) as exc:
                expected = f"{spec.dtype.name} of shape {spec.shape.as_list()} (None = any)"
                first = str(exc).strip().splitlines()[0][:120]
                raise MtlflowError(f"input column {name!r}: expected {expected}; {first}") from None
        outputs = {k: v.numpy() for k, v in self.serve(raw).items()}
        n = len(next(iter(columns.values())))
        return [{task.name: task.decode(outputs, i) for task in self._task_objects} for i in range(n)]
