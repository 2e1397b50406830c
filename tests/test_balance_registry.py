"""Registry, validation messages, configs and diagnostics."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

import mtlflow.balance as balance


def test_registry_lists_every_method():
    assert sorted(balance.BALANCERS) == sorted([
        "fixed", "uncertainty", "dwa", "rlw", "gradnorm",
        "pcgrad", "cagrad", "mgda", "nash_mtl", "aligned_mtl", "imtl"])
    for name, factory in balance.BALANCERS.items():
        b = factory()
        assert b.name == name
        assert b.needs_gradients == (name not in {"fixed", "uncertainty", "dwa", "rlw"})
        assert "Example::" in factory.__doc__ and (name == "fixed" or "References:" in factory.__doc__)
    assert set(balance.__all__) >= set(balance.BALANCERS)


def test_unknown_method_names_the_known_ones():
    with pytest.raises(ValueError, match=r"Unknown balancing method 'pcgard'. Known methods: aligned_mtl, cagrad"):
        balance.create("pcgard")


@pytest.mark.parametrize("name, hyperparameters, quoted", [
    ("cagrad", {"c": -1.0}, "c=-1.0"),
    ("dwa", {"period": 0}, "period=0"),
    ("dwa", {"temperature": 0.0}, "temperature=0.0"),
    ("gradnorm", {"alpha": float("nan")}, "alpha=nan"),
    ("mgda", {"iterations": 2.5}, "iterations=2.5"),
    ("cagrad", {"rescale": 3}, "rescale=3"),
    ("uncertainty", {"regression": [1, 0]}, "regression=[1, 0]"),
    ("rlw", {"seed": "zero"}, "seed='zero'"),
    ("fixed", {"weights": [1.0, -2.0]}, "weights[1]=-2.0"),
])
def test_bad_hyperparameter_value_is_named(name, hyperparameters, quoted):
    with pytest.raises(ValueError, match="Argument `") as error:
        balance.create(name, **hyperparameters)
    assert f"Received: {quoted}" in str(error.value)


def test_unknown_hyperparameter_is_named():
    with pytest.raises(ValueError, match=r"Method `pcgrad` has no hyperparameter `alpha` \(received alpha=1.5\). "
                                         r"Its hyperparameters: seed"):
        balance.create("pcgrad", alpha=1.5)


def test_per_task_lengths_checked_at_init():
    with pytest.raises(ValueError, match=r"one weight per task \(3 tasks\)"):
        balance.fixed([1.0, 2.0]).init(3)
    with pytest.raises(ValueError, match=r"one flag per task \(1 tasks\)"):
        balance.uncertainty(regression=[True, False]).init(1)


def test_gradient_methods_require_gradients():
    with pytest.raises(ValueError, match="`imtl` needs the per-task gradients"):
        balance.imtl().update(losses=tf.ones([2]), state=balance.imtl().init(2))


def test_configs_round_trip_through_json():
    balancers = [balance.create(name) for name in balance.BALANCERS] + [
        balance.create("fixed", weights=[1.0, 2.0]),
        balance.every_k_steps(balance.normalize_gradients(balance.cagrad(c=0.2)), k=4),
    ]
    for b in balancers:
        config = json.loads(json.dumps(balance.get_config(b)))
        assert balance.get_config(balance.from_config(config)) == config
    assert balance.get_config(balancers[-1]) == {
        "name": "every_k_steps", "k": 4,
        "balancer": {"name": "normalize_gradients",
                     "balancer": {"name": "cagrad", "c": 0.2, "iterations": 50, "rescale": 1}}}


def test_diagnostics():
    g = tf.constant([[1.0, 0.0], [-1.0, 1.0], [0.0, 0.0]])
    s = 1 / np.sqrt(2)
    np.testing.assert_allclose(balance.cosine_matrix(g).numpy(), [[1, -s, 0], [-s, 1, 0], [0, 0, 0]], atol=1e-6)
    mean = (1 + np.sqrt(2)) / 3
    np.testing.assert_allclose(balance.norm_ratios(g).numpy(), [1 / mean, np.sqrt(2) / mean, 0], rtol=1e-6)
    np.testing.assert_array_equal(balance.conflict(g).numpy(), [[0, 1, 0], [1, 0, 0], [0, 0, 0]])
