"""``label_smoothing`` of a multiclass task: the loss against ``(1-ε)·onehot + ε/K``."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def _task(smoothing: float):
    from mtlflow.config.task_types import MulticlassSpec
    from mtlflow.tasks.multiclass import MulticlassTask

    task = MulticlassTask(MulticlassSpec(name="intent", type="multiclass", label_smoothing=smoothing))
    task.fit(["a", "b", "c", "d"])
    return task


def test_closed_form_loss():
    probabilities = np.array([[0.1, 0.6, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]], "float32")
    labels = np.array([1, 3], "int32")
    loss = np.asarray(_task(0.2).per_example_loss(labels, probabilities))
    # -(1 - 0.2) log p_y - (0.2 / 4) Σ_k log p_k
    expected = [-0.8 * np.log(0.6) - 0.05 * np.log([0.1, 0.6, 0.2, 0.1]).sum(), np.log(4.0)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    plain = np.asarray(_task(0.0).per_example_loss(labels, probabilities))
    np.testing.assert_allclose(plain, -np.log([0.6, 0.25]), rtol=1e-5)


def test_smoothing_keeps_the_loss_above_its_floor_at_a_confident_right_answer():
    """A one-hot-confident right answer costs nothing without smoothing and a lot with it:
    smoothing is what stops the head from driving its logits apart without bound."""
    confident = np.array([[1 - 3e-6, 1e-6, 1e-6, 1e-6]], "float32")
    labels = np.array([0], "int32")
    assert float(np.asarray(_task(0.0).per_example_loss(labels, confident))[0]) < 1e-4
    assert float(np.asarray(_task(0.1).per_example_loss(labels, confident))[0]) > 0.9


def test_config_names_the_key():
    from mtlflow.config import parse_config
    from mtlflow.errors import ConfigError

    stub = {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}}
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.label_smoothing"):
        parse_config({**stub, "tasks": [{"name": "intent", "type": "multiclass", "label_smoothing": 1.0}]})
    with pytest.raises(ConfigError, match=r"tasks\[0\]\.label_smoothing"):
        parse_config({**stub, "tasks": [{"name": "score", "type": "regression", "label_smoothing": 0.1}]})
