"""Wrappers: recomputing every k steps, normalising gradients."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import mtlflow.balance as balance


def test_every_k_steps_recomputes_exactly_on_multiples_of_k():
    inner = balance.rlw(seed=2)
    wrapped = balance.every_k_steps(inner, k=3)
    state, inner_state = wrapped.init(2), inner.init(2)
    expected, seen = None, []
    for step in range(7):
        if step % 3 == 0:  # the inner method's own stream, one draw per recomputation
            result, inner_state = inner.update(losses=tf.ones([2]), state=inner_state)
            expected = result.weights.numpy()
        result, state = wrapped.update(losses=tf.ones([2]), state=state)
        assert result.shared_gradient is None
        np.testing.assert_array_equal(result.weights.numpy(), expected)
        seen.append(result.weights.numpy())
    assert not np.array_equal(seen[2], seen[3]) and not np.array_equal(seen[5], seen[6])
    assert int(state.inner.key[1]) == 3  # the inner state advanced on steps 0, 3, 6 only


def test_every_k_steps_wants_gradients_only_on_recomputation_steps():
    wrapped = balance.every_k_steps(balance.pcgrad(), k=2)
    gradients = tf.constant([[1.0, 0.0], [-1.0, 2.0]])
    state, wants, weights = wrapped.init(2), [], []
    for step in range(5):
        wants.append(bool(wrapped.wants_gradients(state)))
        given = gradients if wants[-1] else None  # the trainer runs off-steps without per-task gradients
        result, state = wrapped.update(losses=tf.ones([2]), gradients=given, state=state)
        weights.append(result.weights.numpy())
    assert wants == [True, False, True, False, True]
    # Recomputed weights reproduce PCGrad's combined gradient; off-steps reuse them.
    pc, _ = balance.pcgrad().update(losses=tf.ones([2]), gradients=gradients, state=balance.pcgrad().init(2))
    np.testing.assert_allclose(weights[0] @ gradients.numpy(), pc.shared_gradient.numpy(), atol=1e-6)
    np.testing.assert_array_equal(weights[1], weights[0])
    assert not bool(balance.every_k_steps(balance.dwa(), k=2).wants_gradients(balance.every_k_steps(balance.dwa(), 2).init(2)))


def test_normalize_gradients_gives_equal_norms_to_the_inner_method():
    gradients = tf.constant([[10.0, 0.0], [0.0, 1.0]])
    result, _ = balance.normalize_gradients(balance.mgda()).update(
        losses=tf.ones([2]), gradients=gradients, state=balance.mgda().init(2))
    scale = 5.5 / np.array([10.0, 1.0])  # mean norm / norm
    np.testing.assert_allclose(result.weights.numpy(), 0.5 * scale, rtol=1e-6)  # MGDA on equal norms: 1/2 each
    np.testing.assert_allclose(result.shared_gradient.numpy(), [2.75, 2.75], rtol=1e-6)


def test_normalize_gradients_zero_row_and_loss_level_inner():
    gradients = tf.constant([[0.0, 0.0], [3.0, 4.0]])
    wrapped = balance.normalize_gradients(balance.fixed())
    result, _ = wrapped.update(losses=tf.ones([2]), gradients=gradients, state=wrapped.init(2))
    assert wrapped.needs_gradients and result.shared_gradient is None
    np.testing.assert_allclose(result.weights.numpy(), [1.0, 0.5])  # zero gradient keeps scale 1; 2.5 / 5
