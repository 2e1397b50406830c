"""``training.ema_momentum``: the moving average of the weights is validated, kept and resumed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import write_synthetic_project
from mtlflow.config import parse_config
from mtlflow.errors import ConfigError
from mtlflow.run import evaluate_run, load_run, train


def test_the_average_follows_its_recursion_and_the_block_swaps_it_in_and_out():
    import keras

    from mtlflow.train.groups import make_optimizer
    from mtlflow.train.weight_averaging import averaged_weights

    weight = keras.Variable(np.array([1.0, -2.0, 3.0], "float32"))
    optimizer = make_optimizer("sgd", 0.1, ema_momentum=0.5)
    with averaged_weights([(optimizer, [weight])]) as swapped:  # no step yet: nothing to swap
        assert swapped is False
    raw = []
    for gradient in ([1.0, 1.0, 1.0], [0.5, -1.0, 2.0], [-3.0, 0.0, 1.0]):
        optimizer.apply_gradients([(np.array(gradient, "float32"), weight)])
        raw.append(np.asarray(weight.numpy()))
    average = raw[0]  # θ̄_1 = θ_1, then θ̄_t = μ θ̄_{t-1} + (1 − μ) θ_t
    for value in raw[1:]:
        average = 0.5 * average + 0.5 * value
    assert not np.allclose(average, raw[-1])
    with averaged_weights([(optimizer, [weight])]) as swapped:
        assert swapped is True
        np.testing.assert_allclose(weight.numpy(), average, rtol=1e-6)
    np.testing.assert_array_equal(weight.numpy(), raw[-1])


def _project(directory, epochs: int, **training):
    path = write_synthetic_project(directory, n_train=160, epochs=epochs, encoder="bigru")
    config = yaml.safe_load(path.read_text("utf-8"))
    config["encoder"].update(embedding_dim=16, units=16, dropout=0.2)
    config["training"].update(training)
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def _checkpoint_values(directory):
    reader = tf.train.load_checkpoint(str(directory))
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k.startswith("model_variables/")}


def test_validation_and_the_kept_model_use_the_average(tmp_path):
    config = _project(tmp_path / "p", epochs=2, ema_momentum=0.9)
    train(config, tmp_path / "run", verbose=False, export=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    run = load_run(tmp_path / "run")  # the best checkpoint: every epoch's, without early stopping
    again = evaluate_run(run, str(tmp_path / "p" / "validation.jsonl"))
    recorded = history["epochs"][-1]["validation"]
    for task, metric in (("topic", "accuracy"), ("flag", "log_loss"), ("score", "rmse"), ("tags", "f1")):
        assert again[task][metric] == pytest.approx(recorded[task][metric], rel=1e-5, abs=1e-6)
    best = _checkpoint_values(tmp_path / "run" / "checkpoints" / "best")
    last = _checkpoint_values(tmp_path / "run" / "checkpoints" / "last")
    moved = [k for k in best if not np.allclose(best[k], last[k])]
    assert moved, "the kept (averaged) weights equal the raw ones: nothing was averaged"


def test_a_resumed_run_continues_the_average_exactly(tmp_path):
    straight = _project(tmp_path / "a", epochs=2, ema_momentum=0.8)
    train(straight, tmp_path / "run_a", verbose=False, export=False)
    train(_project(tmp_path / "b", epochs=1, ema_momentum=0.8), tmp_path / "run_b", verbose=False, export=False)
    train(_project(tmp_path / "b", epochs=2, ema_momentum=0.8), tmp_path / "run_b", resume=True,
          verbose=False, export=False)
    for wa, wb in zip(load_run(tmp_path / "run_a").model.weights, load_run(tmp_path / "run_b").model.weights):
        np.testing.assert_allclose(wa.numpy(), wb.numpy(), rtol=1e-5, atol=1e-6)


def test_config_names_the_key():
    stub = {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}, "tasks": [{"name": "t", "type": "multiclass"}]}
    for bad in (1.0, 0.0, "high"):
        with pytest.raises(ConfigError, match=r"training\.ema_momentum"):
            parse_config({**stub, "training": {"ema_momentum": bad}})
