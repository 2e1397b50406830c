"""Checkpoint resume: an interrupted run continues exactly where an uninterrupted one would be."""

import json

import numpy as np
import pytest

from conftest import write_synthetic_project
from mtlflow.errors import MtlflowError
from mtlflow.run import load_run, train


def _config(directory, epochs):
    path = write_synthetic_project(directory, n_train=200, epochs=epochs, encoder="bigru")
    text = path.read_text("utf-8").replace("dropout: 0.0", "dropout: 0.2")  # dropout RNG must resume too
    path.write_text(text, "utf-8")
    return path


def test_resume_gives_the_same_next_epoch_and_weights(tmp_path):
    straight, _ = train(_config(tmp_path / "a", epochs=2), tmp_path / "run_a", verbose=False, export=False)

    train(_config(tmp_path / "b", epochs=1), tmp_path / "run_b", verbose=False, export=False)
    resumed, _ = train(_config(tmp_path / "b", epochs=2), tmp_path / "run_b", resume=True,
                       verbose=False, export=False)

    history_a = json.loads((tmp_path / "run_a" / "history.json").read_text())
    history_b = json.loads((tmp_path / "run_b" / "history.json").read_text())
    assert history_b["resumed_from_epoch"] == 1
    assert [e["epoch"] for e in history_b["epochs"]] == [1, 2]  # the epoch before the resume is kept
    for a, b in zip(history_a["epochs"], history_b["epochs"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5, abs=1e-6)
    for wa, wb in zip(load_run(tmp_path / "run_a").model.weights, load_run(tmp_path / "run_b").model.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-5, atol=1e-6)


def test_training_into_a_used_run_dir_needs_resume(tmp_path):
    config = _config(tmp_path / "c", epochs=1)
    train(config, tmp_path / "run", verbose=False, export=False)
    with pytest.raises(MtlflowError, match="--resume"):
        train(config, tmp_path / "run", verbose=False, export=False)
