"""The train step with every balancer and the training controls: groups, stages, GC, diagnostics."""

import json
import math

import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import write_synthetic_project
from mtlflow.balance import BALANCERS
from mtlflow.config import BALANCE_HYPERPARAMETERS, load_config
from mtlflow.run import train
from mtlflow.train.gradients import centralize


def project(tmp_path, training: dict, n_train=160, epochs=1, tasks=None):
    path = write_synthetic_project(tmp_path / "p", n_train=n_train, epochs=epochs)
    config = yaml.safe_load(path.read_text())
    config["encoder"].update(embedding_dim=16, units=16)
    if tasks is not None:
        config["tasks"] = [t for t in config["tasks"] if t["name"] in tasks]
    config["training"].update(training)
    config["export"] = {"base_dir": None}
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


@pytest.mark.parametrize("method", sorted(BALANCERS))
def test_every_balancer_trains_the_model_without_nan(tmp_path, method):
    path = project(tmp_path, {"balance": {"method": method}, "diagnostics_every": 2},
                   tasks=["topic", "flag", "score"])
    run, metrics = train(path, tmp_path / "run", verbose=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    record = history["epochs"][0]
    assert all(math.isfinite(v) for v in record["train_loss"].values())
    assert len(record["balance"]["weights"]) == 3 and all(math.isfinite(w) for w in record["balance"]["weights"])
    assert record["balance"]["measured_steps"] >= 1 and len(record["balance"]["cosine"]) == 3
    assert math.isfinite(metrics["topic"]["loss"])


def test_balance_hyperparameters_in_the_config_match_the_factories():
    import inspect

    supplied_by_trainer = {"fixed": {"weights"}, "uncertainty": {"regression"}}
    for name, factory in BALANCERS.items():
        accepted = set(inspect.signature(factory).parameters) - supplied_by_trainer.get(name, set())
        assert accepted == set(BALANCE_HYPERPARAMETERS[name]), name


def test_a_balancer_state_resumes_from_the_checkpoint(tmp_path, monkeypatch):
    """A run stopped after epoch 1's checkpoint resumes with the balancer state it had then."""
    from mtlflow.train.trainer import Trainer

    path = project(tmp_path, {"balance": {"method": "uncertainty", "learning_rate": 0.05}}, epochs=2,
                   tasks=["topic", "score"])
    saved, restored = [], []
    save, restore = Trainer._save_last, Trainer.restore

    class Stop(Exception):
        pass

    def save_then_stop(self):
        save(self)
        saved.append([v.numpy().copy() for v in self.balance_state.fields.values()])
        raise Stop

    def restore_and_record(self):
        epoch = restore(self)
        restored.append([v.numpy().copy() for v in self.balance_state.fields.values()])
        return epoch

    monkeypatch.setattr(Trainer, "_save_last", save_then_stop)
    with pytest.raises(Stop):
        train(path, tmp_path / "run", verbose=False)
    assert any(np.abs(s).max() > 0 for s in saved[0])  # the log-variances moved
    monkeypatch.setattr(Trainer, "_save_last", save)
    monkeypatch.setattr(Trainer, "restore", restore_and_record)
    train(path.parent / "config.yaml", tmp_path / "run", resume=True, verbose=False)
    for a, b in zip(saved[0], restored[0]):
        np.testing.assert_allclose(a, b)


def weights_after(tmp_path, training, steps=1, tasks=("topic", "flag")):
    """Model variables before and after ``steps`` optimisation steps (batch 32)."""
    from mtlflow.data.dataset import SplitData
    from mtlflow.data.encode import encode_table, fit_tasks
    from mtlflow.data.readers import read_table
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.model.build import build_model, task_variables
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.run import absolute_config
    from mtlflow.tasks import create_task
    from mtlflow.train.trainer import Trainer

    path = project(tmp_path, training, tasks=list(tasks))
    config = absolute_config(load_config(path), path.parent)
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(config.data.train)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    vocab = fit_vocabularies(split.features, config.inputs)
    model = build_model(config, vocab, tasks)
    trainer = Trainer(model, tasks, config.training)
    data = SplitData(split, Preprocessor(config.inputs, vocab), tasks)
    groups = task_variables(model, tasks)
    before = {g: [v.numpy().copy() for v in vs] for g, vs in groups.items()}
    iterator = iter(data.batches(32, shuffle_seed=0).repeat())
    history = []
    for _ in range(steps):
        trainer.train_function(iterator)
        history.append({g: [v.numpy().copy() for v in vs] for g, vs in groups.items()})
    return before, history


def largest_change(before, after):
    return max(float(np.abs(a - b).max()) for a, b in zip(before, after))


def test_per_group_learning_rates_differ(tmp_path):
    # Adam's first step moves every parameter with a non-zero gradient by about its learning rate
    training = {"optimizer": "adam", "clip_norm": None, "diagnostics_every": None,
                "groups": {"shared": {"learning_rate": 0.001}, "topic": {"learning_rate": 0.1}}}
    before, (after,) = weights_after(tmp_path, training)
    assert largest_change(before["shared"], after["shared"]) == pytest.approx(0.001, rel=0.05)
    assert largest_change(before["topic"], after["topic"]) == pytest.approx(0.1, rel=0.05)
    assert largest_change(before["flag"], after["flag"]) == pytest.approx(0.01, rel=0.05)  # the default


def test_frozen_groups_do_not_change_during_their_stage(tmp_path):
    training = {"diagnostics_every": None, "stages": [
        {"steps": 3, "freeze": ["shared"]},
        {"steps": 2, "freeze": ["topic"], "learning_rate_multipliers": {"shared": 0.5}},
        {}]}
    before, history = weights_after(tmp_path, training, steps=6)
    for step in range(3):
        assert largest_change(before["shared"], history[step]["shared"]) == 0.0
    assert largest_change(before["topic"], history[0]["topic"]) > 0
    assert largest_change(history[2]["shared"], history[3]["shared"]) > 0  # unfrozen at step 4
    assert largest_change(history[2]["topic"], history[4]["topic"]) == 0.0  # frozen in stage 2
    assert largest_change(history[4]["topic"], history[5]["topic"]) > 0


def test_gradient_centralization_makes_kernel_gradients_zero_mean():
    kernel = tf.Variable(tf.zeros([5, 3]))
    bias = tf.Variable(tf.zeros([3]))
    gradient = tf.random.normal([5, 3], seed=1) + 4.0
    centred = centralize(gradient, kernel)
    np.testing.assert_allclose(tf.reduce_mean(centred, axis=0).numpy(), 0.0, atol=1e-6)
    np.testing.assert_allclose((gradient - centred).numpy(), np.broadcast_to(gradient.numpy().mean(0), (5, 3)), atol=1e-6)
    assert centralize(tf.ones([3]), bias).numpy().tolist() == [1.0, 1.0, 1.0]


def test_gradient_centralization_in_training_changes_the_update(tmp_path):
    off, (a,) = weights_after(tmp_path / "a", {"diagnostics_every": None, "optimizer": "sgd"})
    on, (b,) = weights_after(tmp_path / "b", {"diagnostics_every": None, "optimizer": "sgd",
                                             "gradient_centralization": True})
    kernel = next(i for i, w in enumerate(off["topic"]) if w.ndim == 2)
    delta_off = a["topic"][kernel] - off["topic"][kernel]
    delta_on = b["topic"][kernel] - on["topic"][kernel]
    assert np.abs(delta_off.mean(axis=0)).max() > 1e-6
    np.testing.assert_allclose(delta_on.mean(axis=0), 0.0, atol=1e-7)


def test_diagnostics_record_task_gradient_cosines(tmp_path):
    path = project(tmp_path, {"diagnostics_every": 1}, tasks=["topic", "flag", "score"])
    train(path, tmp_path / "run", verbose=False)
    stats = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"][0]["balance"]
    cosine = np.array(stats["cosine"])
    np.testing.assert_allclose(np.diag(cosine), 1.0, atol=1e-4)
    np.testing.assert_allclose(cosine, cosine.T, atol=1e-6)
    assert stats["measured_steps"] == stats["steps"] == 5
    assert np.all((np.array(stats["conflict_rate"]) >= 0) & (np.array(stats["conflict_rate"]) <= 1))


@pytest.mark.parametrize("method", ["pcgrad", *(pytest.param(m, marks=pytest.mark.slow)
                                                for m in ("fixed", "mgda", "uncertainty"))])
def test_two_mirrored_devices_take_the_same_step_as_one(tmp_path, method):
    result = _mirrored_equivalence(tmp_path, method, {})
    assert result["max_weight_difference"] < 1e-4, result


def test_two_mirrored_devices_keep_the_same_weight_average(tmp_path):
    result = _mirrored_equivalence(tmp_path, "fixed", {"ema_momentum": 0.5})
    assert result["max_weight_difference"] < 1e-4, result
    assert result["average_from_raw"] > 1e-3, result  # the average is not the raw weights
    assert result["max_average_difference"] < 1e-4, result


def _mirrored_equivalence(tmp_path, method: str, training: dict) -> dict:
    """Three steps on one device and on two mirrored ones (tests/scripts/mirrored_equivalence.py)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = project(tmp_path, {"diagnostics_every": 2, "clip_norm": 1.0, "gradient_centralization": True,
                              "task_clip_norm": 5.0, **training}, n_train=96, tasks=["topic", "flag", "score", "tags"])
    script = Path(__file__).parent / "scripts" / "mirrored_equivalence.py"
    out = subprocess.run([sys.executable, str(script), str(path), method], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    for a, b in zip(result["losses_one"], result["losses_two"]):
        for task in a:
            assert a[task] == pytest.approx(b[task], rel=1e-4, abs=1e-5)
    return result


def test_separate_encoders_train_and_refuse_gradient_balancing(tmp_path):
    from mtlflow.errors import ConfigError

    path = project(tmp_path, {"diagnostics_every": 1}, tasks=["topic", "flag"])
    config = yaml.safe_load(path.read_text())
    config["sharing"] = {"type": "none"}
    path.write_text(yaml.safe_dump(config), "utf-8")
    run, metrics = train(path, tmp_path / "run", verbose=False)
    record = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"][0]["balance"]
    assert record["measured_steps"] == 0 and "cosine" not in record  # nothing shared to compare
    config["training"]["balance"] = {"method": "pcgrad"}
    path.write_text(yaml.safe_dump(config), "utf-8")
    with pytest.raises(ConfigError, match="shares none"):
        train(path, tmp_path / "run2", verbose=False)


@pytest.mark.parametrize("method", ["pcgrad", "mgda", "fixed"])
def test_representation_gradients_train_and_match_parameters_for_fixed(tmp_path, method):
    """``gradients: representation`` combines per-task gradients on the encoder output; for a
    linear combination (fixed weights) the step equals the ordinary one exactly."""
    training = {"diagnostics_every": None, "balance": {"method": method, "gradients": "representation"}}
    before, history = weights_after(tmp_path / "r", training, steps=2, tasks=("topic", "flag", "tags"))
    assert all(np.isfinite(w).all() for g in history[-1].values() for w in g)
    assert largest_change(before["shared"], history[-1]["shared"]) > 0
    if method == "fixed":
        _, reference = weights_after(tmp_path / "p", {"diagnostics_every": None}, steps=2,
                                     tasks=("topic", "flag", "tags"))
        for group in history[-1]:
            for a, b in zip(history[-1][group], reference[-1][group]):
                np.testing.assert_allclose(a, b, atol=2e-6)
