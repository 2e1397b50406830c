"""The contract every registered balancer (and wrapped ones) keeps inside a compiled step."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import mtlflow.balance as balance

T, P = 3, 7

CASES = {name: (lambda name=name: balance.create(name)) for name in balance.BALANCERS}
CASES["every_k_steps(pcgrad)"] = lambda: balance.every_k_steps(balance.pcgrad(seed=1), k=2)
CASES["every_k_steps(rlw)"] = lambda: balance.every_k_steps(balance.rlw(seed=1), k=3)
CASES["normalize_gradients(mgda)"] = lambda: balance.normalize_gradients(balance.mgda())


def batch(step: int, t: int = T):
    """Losses and gradients of one step; step 1 has a zero gradient row, step 2 all zeros."""
    rng = np.random.default_rng(step)
    losses = rng.uniform(0.5, 2.0, size=t).astype(np.float32)
    gradients = rng.normal(size=(t, P)).astype(np.float32)
    if step == 1:
        gradients[0] = 0.0
    if step == 2:
        gradients[:] = 0.0
    return tf.constant(losses), tf.constant(gradients)


class Runner:
    """What the trainer does: state in variables, one compiled step, gradients only when wanted."""

    def __init__(self, balancer, t: int = T):
        self.balancer, self.traces = balancer, 0
        self.holder = balance.StateVariables(balancer.init(t))
        self.step = tf.function(self._step)

    def _step(self, losses, gradients):
        self.traces += 1
        b, state = self.balancer, self.holder.value()
        if not b.needs_gradients:
            gradients = None
        elif b.wants_gradients is not None:
            gradients = tf.cond(b.wants_gradients(state), lambda: gradients, lambda: tf.zeros_like(gradients))
        result, new_state = b.update(losses=losses, gradients=gradients, state=state,
                                     step=tf.constant(3), task_names=("a", "b"))  # extras are ignored
        self.holder.assign(new_state)
        return result, new_state

    def run(self, steps):
        out = []
        for s in steps:
            result, state = self.step(*batch(s))
            out.append((result, state))
        return out


def spec(state):
    return [(tuple(x.shape), x.dtype) for x in tf.nest.flatten(state)]


@pytest.fixture(params=sorted(CASES))
def balancer(request):
    return CASES[request.param]()


def test_traces_once_finite_and_state_stable(balancer):
    runner = Runner(balancer)
    initial = spec(balancer.init(T))
    for step, (result, state) in enumerate(runner.run(range(5))):
        assert spec(state) == initial
        assert result.weights.shape == [T] and result.weights.dtype == tf.float32
        assert np.all(np.isfinite(result.weights.numpy())), (step, result.weights)
        if result.shared_gradient is not None:
            shared = result.shared_gradient.numpy()
            assert shared.shape == (P,) and np.all(np.isfinite(shared))
            np.testing.assert_allclose(shared, result.weights.numpy() @ batch(step)[1].numpy(), atol=1e-4)
    assert runner.traces == 1


def test_checkpoint_round_trip_gives_the_same_next_update(balancer, tmp_path):
    first = Runner(balancer)
    first.run([0, 1])
    path = tf.train.Checkpoint(balance=first.holder).save(str(tmp_path / "ckpt"))
    expected, _ = first.run([3])[0]

    second = Runner(balancer)
    tf.train.Checkpoint(balance=second.holder).restore(path).assert_consumed()
    got, _ = second.run([3])[0]
    np.testing.assert_array_equal(got.weights.numpy(), expected.weights.numpy())
    assert (got.shared_gradient is None) == (expected.shared_gradient is None)
    if got.shared_gradient is not None:
        np.testing.assert_array_equal(got.shared_gradient.numpy(), expected.shared_gradient.numpy())


def test_deterministic(balancer):
    def weights():
        b, state, out = balancer, balancer.init(T), []
        for s in [0, 3, 4]:
            losses, gradients = batch(s)
            result, state = b.update(losses=losses, gradients=gradients if b.needs_gradients else None, state=state)
            out.append(result.weights.numpy())
        return np.stack(out)

    np.testing.assert_array_equal(weights(), weights())


def test_one_task_is_plain_gradient_descent(balancer):
    """T = 1: the shared update is the task gradient (CAGrad: times (1 + c)/(1 + c²), its rescaling)."""
    state = balancer.init(1)
    factor = (1 + 0.4) / (1 + 0.4**2) if balancer.name == "cagrad" else 1.0
    for step in range(3):
        losses, gradients = batch(step + 3, t=1)
        result, state = balancer.update(losses=losses, gradients=gradients if balancer.needs_gradients else None,
                                        state=state)
        shared = result.shared_gradient
        shared = (result.weights[:, None] * gradients)[0] if shared is None else shared
        g, shared = gradients[0].numpy(), shared.numpy()
        if step == 0:  # from the initial state: exactly plain gradient descent
            np.testing.assert_allclose(shared, factor * g, rtol=1e-5, atol=1e-6)
        else:  # a learned scale (uncertainty) may change the step size, never the direction
            assert float(result.weights[0]) > 0
            np.testing.assert_allclose(shared @ g / (np.linalg.norm(shared) * np.linalg.norm(g)), 1.0, rtol=1e-5)
