"""MMoE beats a shared bottom of the same size on two uncorrelated synthetic regression tasks.

The tasks: orthonormal directions ``u_1 … u_4`` in 8 dimensions, ``x ~ N(0, I)``,
``y_1 = (u_1·x)(u_2·x) + ε``, ``y_2 = (u_3·x)(u_4·x) + ε`` (standardised), so the tasks are
uncorrelated and read disjoint input subspaces. A task gate times an expert,
``g_k(x)_i f_i(x)``, is a product of two functions of ``x``, which a ReLU layer under a
linear head can only approximate piece by piece: with the same parameter budget MMoE
reaches less than half the shared bottom's test MSE on every seed tried (0–7).

The generator of Ma et al. (KDD 2018, §4.1: ``y_k = w_k·x + Σ_j sin(α_j w_k·x + β_j)``)
is not used: at this size which model wins depends on the random sinusoid drawn (8 experts
× 2 units vs 26 shared units: MSE ratio from 0.2 to 4.5 over ten seeds), so it cannot give
a margin that holds across seeds.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

import mtlflow.layers as L


def product_tasks(n: int, seed: int, dim: int = 8):
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(dim, 4)))
    x = rng.normal(size=(n, dim))
    z = x @ u
    ys = [z[:, 0] * z[:, 1] + rng.normal(0, 0.1, n), z[:, 2] * z[:, 3] + rng.normal(0, 0.1, n)]
    return x.astype("float32"), [((y - y.mean()) / y.std()).astype("float32")[:, None] for y in ys]


def mean_test_mse(layers: dict, seed: int, n_train: int = 3000, n_test: int = 2000) -> dict:
    """Mean test MSE over both tasks, per sharing layer (+ one linear head per task), after 10 epochs of Adam.

    All layers read the same input inside one model and are fitted together: their
    losses are summed but they share no weights, so each trains as if alone (Adam is
    per parameter), at the cost of one ``fit``.
    """
    x, ys = product_tasks(n_train + n_test, seed)
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((x.shape[1],))
    outputs = [keras.layers.Dense(1)(h) for layer in layers.values() for h in layer(inputs)]
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), loss=["mse"] * len(outputs))
    model.fit(x[:n_train], [y[:n_train] for _ in layers for y in ys], epochs=10, batch_size=64, verbose=0)
    predictions = model.predict(x[n_train:], batch_size=n_test, verbose=0)
    errors = [np.mean((p - y[n_train:]) ** 2) for p, y in zip(predictions, [y for _ in layers for y in ys])]
    return {name: float(np.mean(errors[2 * i:2 * i + 2])) for i, name in enumerate(layers)}


@pytest.mark.parametrize("seed", [0, 1])
def test_mmoe_beats_shared_bottom_on_uncorrelated_tasks(seed):
    layers = {"mmoe": L.MMoE(2, num_experts=6, expert_units=(4,)), "bottom": L.SharedBottom(2, units=(30,))}
    mse = mean_test_mse(layers, seed)
    # 6 experts × 4 units vs 30 shared units: 334 vs 332 parameters with the two heads.
    assert layers["mmoe"].count_params() + 10 == 334 and layers["bottom"].count_params() + 62 == 332
    assert mse["bottom"] < 0.2  # both learn (the targets have variance 1) ...
    assert mse["mmoe"] < 0.7 * mse["bottom"]  # ... the gated mixture clearly more
