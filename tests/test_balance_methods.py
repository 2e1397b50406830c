"""Closed-form checks of each balancing method on hand-sized problems."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

import mtlflow.balance as balance

LOSSES2 = tf.constant([1.0, 1.0])


def run(balancer, gradients=None, losses=None):
    """One update from the initial state: ``(weights, shared_gradient)`` as NumPy."""
    gradients = None if gradients is None else tf.constant(gradients, tf.float32)
    t = (gradients.shape[0] if gradients is not None else len(losses))
    losses = tf.ones([t]) if losses is None else tf.constant(losses, tf.float32)
    result, _ = balancer.update(losses=losses, gradients=gradients, state=balancer.init(t))
    shared = None if result.shared_gradient is None else result.shared_gradient.numpy()
    return result.weights.numpy(), shared


def random_gradients(t, p, seed):
    return np.random.default_rng(seed).normal(size=(t, p)).astype(np.float32)


# --- PCGrad ------------------------------------------------------------------------------


def test_pcgrad_removes_exactly_the_conflicting_component():
    g1, g2 = np.array([1.0, 0.0]), np.array([-1.0, 2.0])  # g1 · g2 = -1 < 0
    expected1 = g1 - (g1 @ g2) / (g2 @ g2) * g2  # [0.8, 0.4]
    expected2 = g2 - (g2 @ g1) / (g1 @ g1) * g1  # [0, 2]
    weights, shared = run(balance.pcgrad(), [g1, g2])
    np.testing.assert_allclose(shared, expected1 + expected2, atol=1e-6)
    np.testing.assert_allclose(weights, [1.0 + 1.0, 1.0 + 0.2], atol=1e-6)  # g1: 1 + 1, g2: 1 + 1/5
    assert abs(expected1 @ g2) < 1e-9 and abs(expected2 @ g1) < 1e-9


def test_pcgrad_leaves_non_conflicting_gradients_unchanged():
    g = [[1.0, 0.0, 2.0], [1.0, 1.0, 0.0], [0.0, 3.0, 1.0]]  # all pairwise dots >= 0
    weights, shared = run(balance.pcgrad(seed=5), g)
    np.testing.assert_allclose(weights, [1.0, 1.0, 1.0])
    np.testing.assert_allclose(shared, np.sum(g, axis=0), atol=1e-6)


# --- MGDA --------------------------------------------------------------------------------


@pytest.mark.parametrize("g1, g2", [
    ([1.0, 0.0], [0.0, 1.0]),     # γ = 1/2
    ([2.0, 0.0], [-1.0, 1.0]),    # interior, unequal norms
    ([1.0, 0.0], [2.0, 0.0]),     # γ = 2 clipped to 1: the min-norm point is g1
])
def test_mgda_two_tasks_closed_form(g1, g2):
    g1, g2 = np.array(g1), np.array(g2)
    gamma = np.clip((g2 - g1) @ g2 / ((g1 - g2) @ (g1 - g2)), 0.0, 1.0)
    weights, shared = run(balance.mgda(), [g1, g2])
    np.testing.assert_allclose(weights, [gamma, 1 - gamma], atol=1e-6)
    np.testing.assert_allclose(shared, gamma * g1 + (1 - gamma) * g2, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mgda_three_tasks_is_the_min_norm_point(seed):
    g = random_gradients(3, 4, seed) * np.array([[0.5], [1.0], [3.0]], np.float32)
    weights, d = run(balance.mgda(), g)
    assert np.all(weights >= 0) and abs(weights.sum() - 1) < 1e-5
    # KKT of min ‖Σ w g‖² on the simplex: every g_t · d >= ‖d‖² (equality where w_t > 0).
    tol = 1e-3 * np.max(np.sum(g**2, axis=1))
    assert np.all(g @ d >= d @ d - tol)
    np.testing.assert_allclose((g @ d)[weights > 1e-3], d @ d, atol=tol)


# --- CAGrad ------------------------------------------------------------------------------


def test_cagrad_with_c_zero_is_the_mean_gradient():
    g = random_gradients(3, 5, 0)
    weights, shared = run(balance.cagrad(c=0.0), g)
    np.testing.assert_allclose(weights, [1 / 3] * 3, atol=1e-7)
    np.testing.assert_allclose(shared, g.mean(axis=0), atol=1e-6)


def test_cagrad_solves_the_dual_two_tasks_grid():
    g = np.array([[1.0, 0.0], [-0.5, 2.0]], np.float32)
    c = 0.4
    a, g0 = g @ g.T, g.mean(axis=0)
    gammas = np.linspace(0.0, 1.0, 100_001)
    w = np.stack([gammas, 1 - gammas], axis=1)
    objective = w @ (g @ g0) + c * np.linalg.norm(g0) * np.sqrt(np.einsum("ni,ij,nj->n", w, a, w))
    best = w[np.argmin(objective)]
    gw = best @ g
    expected = (g0 + c * np.linalg.norm(g0) / np.linalg.norm(gw) * gw) / (1 + c**2)
    _, shared = run(balance.cagrad(c=c), g)
    np.testing.assert_allclose(shared, expected, atol=1e-4)


# --- IMTL, Nash-MTL, Aligned-MTL -----------------------------------------------------------


def test_imtl_has_equal_projections_on_every_unit_gradient():
    g = random_gradients(3, 6, 3) * np.array([[0.1], [1.0], [10.0]], np.float32)
    weights, d = run(balance.imtl(), g)
    projections = (g / np.linalg.norm(g, axis=1, keepdims=True)) @ d
    np.testing.assert_allclose(projections, projections[0], rtol=1e-4)
    assert abs(weights.sum() - 1) < 1e-5


def test_nash_mtl_solves_the_bargaining_equation():
    g = random_gradients(3, 6, 4) * np.array([[0.2], [1.0], [5.0]], np.float32)
    alpha, d = run(balance.nash_mtl(), g)
    a = g @ g.T
    a = a / np.linalg.norm(a)  # the official code's normalisation
    assert np.all(alpha > 0)
    np.testing.assert_allclose(a @ alpha, 1 / alpha, rtol=1e-3)
    np.testing.assert_allclose(d, alpha @ g, rtol=1e-5, atol=1e-6)


def test_nash_mtl_orthogonal_gradients_closed_form():
    alpha, _ = run(balance.nash_mtl(), [[3.0, 0.0], [0.0, 1.0]])
    diag = np.array([9.0, 1.0]) / np.sqrt(81.0 + 1.0)
    np.testing.assert_allclose(alpha, 1 / np.sqrt(diag), rtol=1e-3)  # α_t = 1/√Ã_tt


def test_aligned_mtl_orthogonal_gradients_scaled_to_the_smallest():
    weights, shared = run(balance.aligned_mtl(), [[2.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(weights, [0.5, 1.0], atol=1e-6)
    np.testing.assert_allclose(shared, [1.0, 1.0], atol=1e-6)


def test_aligned_mtl_aligned_gradients_are_orthonormal_times_sigma_min():
    g = random_gradients(3, 5, 6) * np.array([[0.3], [1.0], [4.0]], np.float32)
    weights, shared = run(balance.aligned_mtl(), g)
    u, s, vt = np.linalg.svd(g, full_matrices=False)
    aligned = s.min() * u @ vt  # Ĝ = σ_min U Vᵀ: rows orthogonal, norm σ_min
    np.testing.assert_allclose(aligned @ aligned.T, s.min() ** 2 * np.eye(3), atol=1e-4)
    np.testing.assert_allclose(shared, aligned.sum(axis=0), rtol=1e-3, atol=1e-4)


# --- loss-level methods --------------------------------------------------------------------


def test_fixed_weights():
    weights, shared = run(balance.fixed([1.0, 0.5]), losses=[2.0, 4.0])
    np.testing.assert_allclose(weights, [1.0, 0.5])
    assert shared is None
    np.testing.assert_allclose(run(balance.fixed(), losses=[2.0, 4.0, 1.0])[0], [1.0, 1.0, 1.0])


def test_dwa_hand_computed_with_two_step_windows():
    balancer, state = balance.dwa(temperature=2.0, period=2), balance.dwa().init(2)
    seen = []
    for losses in [[4.0, 2.0], [2.0, 2.0], [1.0, 2.0], [2.0, 2.0], [9.0, 9.0]]:
        result, state = balancer.update(losses=tf.constant(losses), state=state)
        seen.append(result.weights.numpy())
    for weights in seen[:4]:  # fewer than two complete windows: equal weights
        np.testing.assert_allclose(weights, [1.0, 1.0])
    r = np.array([1.5 / 3.0, 2.0 / 2.0])  # window means (3, 2) then (1.5, 2)
    np.testing.assert_allclose(seen[4], 2 * np.exp(r / 2) / np.exp(r / 2).sum(), rtol=1e-6)


def test_rlw_weights_are_random_positive_and_sum_to_t():
    balancer = balance.rlw(seed=1)
    state, draws = balancer.init(3), []
    for _ in range(3):
        result, state = balancer.update(losses=tf.ones([3]), state=state)
        draws.append(result.weights.numpy())
    assert all(np.all(w > 0) and abs(w.sum() - 3) < 1e-5 for w in draws)
    assert not np.allclose(draws[0], draws[1])
    again, _ = balance.rlw(seed=1).update(losses=tf.ones([3]), state=balance.rlw(seed=1).init(3))
    np.testing.assert_array_equal(again.weights.numpy(), draws[0])
