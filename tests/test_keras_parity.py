"""One step, two drivers: ``MultiTaskModel.fit`` and the config-driven ``Trainer`` run the same
step code, so from the same weights and batches they reach the same weights — for every
registered balancer, with representation gradients, and with ``every: k``."""

from __future__ import annotations

import numpy as np
import pytest

from keras_fixtures import build, dataset, make_config, make_tasks
from mtlflow.balance import BALANCERS


def trainer_and_fit(training: dict, steps: int, representation: bool = False, callbacks=()):
    """Trainable weights (before, after Trainer, after fit) and the balancer states after both."""
    from mtlflow.keras import MultiTaskModel
    from mtlflow.train.balancer_factory import make_balancer
    from mtlflow.train.groups import make_optimizer
    from mtlflow.train.trainer import Trainer

    # SGD: the update is linear in the gradient (Adam's first step is about lr·sign(g), blind to its scale)
    config = make_config({"optimizer": "sgd", "learning_rate": 0.1, **training})
    tasks = make_tasks(config)
    reference = build(config, tasks)
    model = build(config, tasks, seed=1)
    model.set_weights(reference.get_weights())
    before = [v.numpy().copy() for v in reference.trainable_variables]

    trainer = Trainer(reference, tasks, config.training)
    iterator = iter(dataset(batch_size=32, n=32 * steps))
    for _ in range(steps):
        trainer.train_function(iterator)

    wrapped = MultiTaskModel(model)
    wrapped.compile(losses=dict(tasks), balancer=make_balancer(config.training, tasks, list(tasks)),
                    optimizers=make_optimizer(config.training.optimizer, config.training.learning_rate),
                    clip_norm=config.training.clip_norm, gradient_centralization=True,
                    task_clip_norm=config.training.task_clip_norm,
                    representation="representation.pooled" if representation else None)
    wrapped.fit(dataset(batch_size=32, n=32 * steps), epochs=1, verbose=0, shuffle=False, callbacks=list(callbacks))
    after_trainer = [v.numpy() for v in reference.trainable_variables]
    after_fit = [v.numpy() for v in model.trainable_variables]
    states = ([v.numpy() for v in trainer.balance_state.fields.values()],
              [v.numpy() for v in wrapped.step_state.balance.fields.values()])
    return before, after_trainer, after_fit, states


def assert_same_step(before, after_trainer, after_fit, states):
    moved = max(float(np.abs(a - b).max()) for a, b in zip(after_trainer, before))
    assert moved > 1e-3  # the step did something to compare
    for a, b in zip(after_trainer, after_fit):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)
    for a, b in zip(*states):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-7)


FAST = ("uncertainty", "pcgrad")  # one loss-level, one gradient-level method; the others run with the long tests


@pytest.mark.parametrize("method", [m if m in FAST else pytest.param(m, marks=pytest.mark.slow)
                                    for m in sorted(BALANCERS)])
def test_fit_and_the_trainer_take_the_same_first_step(method):
    assert_same_step(*trainer_and_fit({"balance": {"method": method}, "task_clip_norm": None}, steps=1))


@pytest.mark.slow
def test_every_k_steps_and_task_clipping_take_the_same_steps():
    """``every: 2`` makes steps 0 and 2 compute the task gradients and step 1 not: fit picks the
    same compiled step per call as the trainer."""
    assert_same_step(*trainer_and_fit({"balance": {"method": "cagrad", "every": 2}}, steps=3))
    assert_same_step(*trainer_and_fit({"balance": {"method": "fixed"}, "task_clip_norm": 0.05}, steps=2))


def test_representation_gradients_take_the_same_step():
    assert_same_step(*trainer_and_fit({"balance": {"method": "pcgrad", "gradients": "representation"}}, steps=2,
                                      representation=True))


def test_staged_freezing_takes_the_same_steps():
    """A stage that freezes the trunk for one step, then one that halves its learning rate:
    the StagedTraining callback and the trainer's ``training.stages`` move the same weights."""
    from mtlflow.keras import StagedTraining

    stages = [{"steps": 1, "freeze": ["shared"]}, {"learning_rate_multipliers": {"shared": 0.5}}]
    before, after_trainer, after_fit, states = trainer_and_fit({"stages": stages}, steps=3,
                                                               callbacks=[StagedTraining(stages)])
    assert_same_step(before, after_trainer, after_fit, states)


def test_shared_variables_found_from_the_graph_are_the_trainers():
    from mtlflow.keras import variable_groups
    from mtlflow.model.build import task_variables

    config = make_config()
    tasks = make_tasks(config)
    model = build(config, tasks)
    ours, theirs = variable_groups(model, list(tasks)), task_variables(model, tasks)
    assert {g: [v.path for v in vs] for g, vs in ours.items()} == {g: [v.path for v in vs] for g, vs in theirs.items()}
    assert ours["shared"] and all(ours[t] for t in tasks)
