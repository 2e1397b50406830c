"""training.learning_rate_schedule: warm-up then linear/cosine decay, in the compiled step."""

import math

import numpy as np
import pytest

from conftest import write_synthetic_project
from mtlflow.config import TrainingConfig
from mtlflow.train.groups import OptimizerGroups


def _groups(**training):
    import keras

    variable = keras.Variable(np.zeros(2, np.float32))
    groups = OptimizerGroups(TrainingConfig(learning_rate=0.1, **training), {"shared": [variable]})
    groups.set_total_steps(100)
    return groups


@pytest.mark.parametrize("kind, expected", [
    ("linear", {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 55: 0.5, 100: 0.0}),
    ("cosine", {0: 0.1, 9: 1.0, 10: 1.0, 55: 0.5, 100: 0.0}),
    ("constant", {0: 0.1, 9: 1.0, 50: 1.0, 100: 1.0}),
])
def test_factor_follows_the_closed_form(kind, expected):
    groups = _groups(learning_rate_schedule=kind, warmup_fraction=0.1)
    for step, factor in expected.items():
        assert float(groups.schedule_factor(step)) == pytest.approx(factor, abs=1e-6), (kind, step)
    if kind == "cosine":  # p = 25/90 of the way through the decay
        assert float(groups.schedule_factor(35)) == pytest.approx(0.5 * (1 + math.cos(math.pi * 25 / 90)), abs=1e-6)


def test_constant_without_warmup_sets_nothing():
    assert _groups().schedule_factor(5) is None


def test_a_run_ends_with_the_rate_decayed_and_bucketed_steps_counted(tmp_path):
    from mtlflow.run import train
    from mtlflow.train.trainer import _steps_per_epoch

    path = write_synthetic_project(tmp_path / "p", n_train=200, epochs=2)
    text = path.read_text().replace("test: test.jsonl", "test: test.jsonl\n  bucket_boundaries: [6, 9, 12]")
    text = text.replace("training:", "training:\n  learning_rate_schedule: linear\n  warmup_fraction: 0.2")
    path.write_text(text, "utf-8")
    run, _ = train(path, tmp_path / "run", verbose=False, export=False)
    trainer = run.trainer
    data = run.split_data(_train_split(run))
    counted = sum(1 for _ in data.batches(trainer.config.batch_size, shuffle_seed=0,
                                          bucket_boundaries=[6, 9, 12]))
    assert _steps_per_epoch(data, trainer.config.batch_size, [6, 9, 12]) == counted
    total = int(trainer.optimizers.total_steps.numpy())
    assert total == 2 * counted
    optimizer = next(iter(trainer.optimizers.optimizers.values()))
    last_factor = 1.0 - (total - 1 - 0.2 * total) / (total - 0.2 * total)
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(trainer.config.learning_rate * last_factor, rel=1e-4)


def _train_split(run):
    from mtlflow.run import read_splits
    from mtlflow.tasks import create_task

    tasks = {s.name: create_task(s) for s in run.config.tasks}
    train_split, _, _ = read_splits(run.config, tasks)
    return train_split
