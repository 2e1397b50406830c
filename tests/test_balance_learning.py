"""Methods that learn their weights reach the values their papers predict on toy problems."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

import mtlflow.balance as balance


def test_uncertainty_learns_the_inverse_noise_variances():
    """Two regression tasks whose optimal model leaves MSEs with means σ² = (4, 0.25)."""
    variances = tf.constant([4.0, 0.25])
    balancer = balance.uncertainty(regression=[True, True], learning_rate=0.01)

    @tf.function
    def train(state):
        for step in tf.range(3000, dtype=tf.int64):
            noise = tf.random.stateless_normal([2, 32], seed=tf.stack([tf.constant(7, tf.int64), step]))
            losses = variances * tf.reduce_mean(noise**2, axis=1)  # batch MSE of the optimal model
            _, state = balancer.update(losses=losses, state=state)
        return state

    state = train(balancer.init(2))
    weights = balancer.update(losses=variances, state=state)[0].weights
    precision = tf.exp(-state.log_variance).numpy()
    np.testing.assert_allclose(precision, 1 / variances.numpy(), rtol=0.1)
    np.testing.assert_allclose(weights.numpy(), precision / 2, rtol=0.05)  # regression: exp(-s)/2


def test_gradnorm_equalises_gradient_norms():
    """Two linear-regression tasks sharing one weight vector, gradient scales 20x apart."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.normal(size=(64, 4)), tf.float32)
    targets = [tf.linalg.matvec(x, tf.constant(rng.normal(size=4), tf.float32)) for _ in range(2)]
    scales = tf.constant([0.05, 1.0])
    balancer = balance.gradnorm(alpha=1.5, learning_rate=0.025)

    def task_gradients(theta):
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(theta)
            losses = tf.stack([s * tf.reduce_mean((tf.linalg.matvec(x, theta) - y) ** 2)
                               for s, y in zip(tf.unstack(scales), targets)])
        return losses, tape.jacobian(losses, theta)

    def ratio_and_target(weights, theta, initial):
        losses, gradients = task_gradients(theta)
        g = weights * tf.norm(gradients, axis=1)
        r = (losses / initial) / tf.reduce_mean(losses / initial)
        return g[0] / g[1], (r[0] / r[1]) ** 1.5

    @tf.function
    def train(theta, state):
        for _ in tf.range(400):
            losses, gradients = task_gradients(theta)
            result, state = balancer.update(losses=losses, gradients=gradients, state=state)
            theta -= 0.05 * tf.linalg.matvec(gradients, result.weights, transpose_a=True)
        return theta, state

    theta0 = tf.zeros([4])
    initial, _ = task_gradients(theta0)
    before, target_before = ratio_and_target(tf.ones([2]), theta0, initial)
    theta, state = train(theta0, balancer.init(2))
    after, target_after = ratio_and_target(state.weights, theta, state.initial_losses)
    assert abs(np.log(before / target_before)) > np.log(10)  # far apart at the start
    assert abs(np.log(after / target_after)) < np.log(1.5)  # close at the end
    assert abs(float(tf.reduce_sum(state.weights)) - 2) < 1e-5
