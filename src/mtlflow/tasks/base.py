"""The contract every task type fulfils: head, masked loss, label codec, metrics, decoding."""

from __future__ import annotations

from typing import Any, ClassVar, NamedTuple, Sequence

import keras
import numpy as np

from mtlflow.errors import DataError
from mtlflow.tasks.spec import TaskSpec


class TokenView(NamedTuple):
    """What token-level tasks need to decode spans in the exported graph."""

    tokens: Any  # [batch, time] strings, "" at padding
    mask: Any  # [batch, time] bool, True at real tokens
    joiner: str  # "" for per-character tokens, " " for whitespace tokens


def as_text(value) -> str:
    """A NumPy/TF string element as ``str``."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


class LabelError(DataError):
    """A label value that the task cannot encode (unknown class, not a number, ...).

    Raised by :meth:`Task.encode`; the data pipeline either re-raises it or, when the
    config says ``data.on_bad_label: mask``, masks that label and counts it.

    ``unseen_label``: the label name when the value is a well-formed label that the task's
    inventory lacks (unseen in training); evaluation still scores such gold labels.
    """

    unseen_label: str | None = None


class MaskedTaskLoss(keras.losses.Loss):
    """A task's per-example loss as a Keras loss reduced over the labelled examples only.

    ``L = Σ_i m_i ℓ_i / Σ_i m_i`` with the mask as ``sample_weight`` (0 when nothing in the
    batch is labelled); Keras's default would divide by the batch size, which shrinks the
    loss of a task labelled in few examples of the batch.
    """

    def __init__(self, per_example_loss, name: str | None = None):
        super().__init__(name=name, reduction="mean_with_sample_weight")
        self.per_example_loss = per_example_loss

    def call(self, y_true, y_pred):
        return self.per_example_loss(y_true, y_pred)


class Task:
    """One prediction target of a multi-task model.

    A task owns everything that depends on its type:

    * the **label codec**: ``fit`` learns the label inventory (or statistics) from the
      training split, ``encode`` turns one raw value into ``(label, mask)``; a missing
      value (``None``) encodes to mask 0, so the example still trains the other tasks;
    * the **head**: ``build_head`` maps the shared representation to the task's output
      (probabilities for classification, values for regression);
    * the **loss**: ``per_example_loss`` gives one loss per example (per token for
      ``level == "token"``); the trainer masks and averages it;
    * **metrics** over NumPy arrays of the evaluation split, and ``correct`` for the joint
      accuracy;
    * **serving**: ``serving_outputs`` builds the exported graph's decoded outputs and
      ``decode`` turns one example of them into JSON-ready Python values.
    """

    type_name: ClassVar[str]
    spec_class: ClassVar[type[TaskSpec]]
    level: ClassVar[str] = "example"
    label_dtype: ClassVar[str] = "int32"

    def __init__(self, spec: TaskSpec):
        self.spec = spec
        self.name = spec.name

    # ---- label codec --------------------------------------------------------------
    def fit(self, values: Sequence[Any]) -> None:
        """Learns what encoding needs (labels, statistics) from the training split."""

    def state(self) -> dict:
        """JSON-serialisable result of :meth:`fit`, saved with the run."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restores what :meth:`fit` learned."""

    def encode(self, value: Any, location: str) -> tuple[Any, float]:
        """Encodes one raw label; returns ``(label, mask)``; raises :class:`LabelError`."""
        raise NotImplementedError

    def missing_label(self) -> Any:
        """The placeholder label stored for a masked example."""
        raise NotImplementedError

    # ---- model ----------------------------------------------------------------------
    def build_head(self, x):
        """Builds tower and head on the shared representation ``x`` (a Keras tensor)."""
        raise NotImplementedError

    def tower(self, x):
        """Task-specific dense layers (``spec.tower``) with dropout, named ``<task>_tower_<i>``."""
        for i, units in enumerate(self.spec.tower):
            x = keras.layers.Dense(units, activation="relu", name=f"{self.name}_tower_{i}")(x)
            if self.spec.dropout:
                x = keras.layers.Dropout(self.spec.dropout, name=f"{self.name}_dropout_{i}")(x)
        return x

    def per_example_loss(self, y_true, y_pred):
        """Unreduced loss: shape ``[batch]`` (``[batch, time]`` for token-level tasks)."""
        raise NotImplementedError

    def keras_loss(self) -> keras.losses.Loss:
        """A Keras loss for ``model.compile`` (masks go in as ``sample_weight``).

        Reduced as the trainer reduces it (:func:`~mtlflow.ops.masked.masked_mean`): the
        masked sum divided by the number of labelled examples (tokens), ``Σ m ℓ / Σ m``, not
        by the batch size, so ``compile``/``fit`` weighs the tasks as :class:`Trainer` does.
        """
        return MaskedTaskLoss(self.per_example_loss, name=f"{self.name}_loss")

    # ---- evaluation ----------------------------------------------------------------
    def evaluate(self, y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
        """Metrics over the labelled examples only (the caller drops masked ones)."""
        raise NotImplementedError

    def correct(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray | None:
        """Per-example correctness for the joint accuracy, or None if not defined."""
        return None

    def selected_metrics(self, metrics: dict[str, Any]) -> dict[str, Any]:
        if self.spec.metrics is None:
            return metrics
        keep = set(self.spec.metrics) | {"count"}
        return {k: v for k, v in metrics.items() if k in keep}

    # ---- serving --------------------------------------------------------------------
    def serving_outputs(self, y_pred, tokens=None) -> dict:
        """Exported outputs of this task, keyed ``<task>_<what>`` (tensors, in-graph)."""
        raise NotImplementedError

    def decode(self, outputs: dict[str, np.ndarray], index: int, tokens=None) -> Any:
        """One example's decoded prediction as JSON-ready Python values."""
        raise NotImplementedError
