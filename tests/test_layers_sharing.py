"""Sharing-architecture layers: shapes, gates, closed forms, equivalences, serialization, checks."""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest
from keras import ops

import mtlflow.layers as L

DIM, UNITS = 7, 5

# name → (factory, output width, gate width per task or None); small sizes keep the file fast.
LAYERS = {
    "shared_bottom": (lambda **kw: L.SharedBottom(3, units=(6, UNITS), **kw), UNITS, None),
    "separate_bottom": (lambda **kw: L.SeparateBottom(3, units=(6, UNITS), **kw), UNITS, None),
    "mmoe": (lambda **kw: L.MMoE(3, num_experts=4, expert_units=(6, UNITS), gate_units=(3,), **kw), UNITS, 4),
    "cgc": (lambda **kw: L.CGC(3, shared_experts=2, task_experts=3, expert_units=(UNITS,), **kw), UNITS, 5),
    "ple": (lambda **kw: L.PLE(3, levels=3, shared_experts=2, task_experts=1, expert_units=(6, UNITS), **kw),
            UNITS, 3),
    "cross_stitch": (lambda **kw: L.CrossStitch(3, units=(6, UNITS), alpha_self=0.7, **kw), UNITS, None),
}
GATED = [name for name, (_, _, width) in LAYERS.items() if width]


def inputs(*lead, seed=0):
    return np.random.default_rng(seed).normal(size=lead + (DIM,)).astype("float32")


def assert_all_close(a, b, atol=1e-6):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(ops.convert_to_numpy(x), ops.convert_to_numpy(y), atol=atol)


@pytest.mark.parametrize("name", LAYERS)
@pytest.mark.parametrize("lead", [(4,), (4, 3)], ids=["2d", "3d"])
def test_output_shapes_match_compute_output_shape(name, lead):
    factory, width, _ = LAYERS[name]
    layer = factory()
    outputs = layer(inputs(*lead))
    assert isinstance(outputs, list) and len(outputs) == 3
    assert [tuple(o.shape) for o in outputs] == [lead + (width,)] * 3
    assert layer.compute_output_shape(lead + (DIM,)) == [lead + (width,)] * 3
    assert layer.gated == (name in GATED)


@pytest.mark.parametrize("name", LAYERS)
def test_functional_model_with_unknown_time(name):
    factory, width, _ = LAYERS[name]
    x = keras.Input((None, DIM))
    outputs = factory()(x)
    assert [tuple(o.shape) for o in outputs] == [(None, None, width)] * 3
    predictions = keras.Model(x, outputs).predict(inputs(2, 9), verbose=0)  # graph mode, time = 9
    assert [p.shape for p in predictions] == [(2, 9, width)] * 3


@pytest.mark.parametrize("name", LAYERS)
def test_config_round_trip_and_weight_copy(name):
    layer = LAYERS[name][0](dropout=0.25, seed=3)
    x = inputs(4, 3)
    expected = layer(x)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    clone.build((None, None, DIM))
    clone.set_weights(layer.get_weights())
    assert_all_close(clone(x), expected)
    dropped = layer(x, training=True)  # dropout acts in training only, with masks drawn from `seed`
    assert not np.allclose(ops.convert_to_numpy(dropped[0]), ops.convert_to_numpy(expected[0]))
    twin = type(layer).from_config(config)
    twin.build((None, None, DIM))
    twin.set_weights(clone.get_weights())
    assert_all_close(twin(x, training=True), clone(x, training=True))


@pytest.mark.parametrize("name, gates", [(n, False) for n in LAYERS] + [(n, True) for n in GATED])
def test_keras_file_round_trip(name, gates, tmp_path):
    layer = LAYERS[name][0](**({"return_gates": True} if gates else {}))
    x = keras.Input((DIM,))
    model = keras.Model(x, layer(x))
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    data = inputs(6, seed=1)
    assert_all_close(keras.tree.flatten(loaded(data)), keras.tree.flatten(model(data)), atol=0)
    assert type(loaded.layers[1]) is type(layer) and loaded.layers[1].get_config() == layer.get_config()


@pytest.mark.parametrize("name", GATED)
@pytest.mark.parametrize("lead", [(4,), (4, 3)], ids=["2d", "3d"])
def test_gates_are_distributions_labelled_by_expert_names(name, lead):
    factory, width, gate_width = LAYERS[name]
    layer = factory(return_gates=True)
    outputs, gates = layer(inputs(*lead))
    assert [tuple(o.shape) for o in outputs] == [lead + (width,)] * 3
    assert [tuple(g.shape) for g in gates] == [lead + (gate_width,)] * 3
    assert layer.compute_output_shape(lead + (DIM,)) == ([lead + (width,)] * 3, [lead + (gate_width,)] * 3)
    for task, gate in enumerate(gates):
        gate = ops.convert_to_numpy(gate)
        np.testing.assert_allclose(gate.sum(-1), 1.0, atol=1e-5)
        assert (gate > 0).all()
        assert len(layer.expert_names(task)) == gate_width
    with pytest.raises(ValueError, match=re.escape("Received: task_index=3")):
        layer.expert_names(3)


def test_expert_names_in_gate_order():
    assert L.MMoE(2, num_experts=3).expert_names(1) == ["expert_0", "expert_1", "expert_2"]
    cgc = L.CGC(2, shared_experts=2, task_experts=1)
    assert cgc.expert_names(1) == ["task_1/expert_0", "shared/expert_0", "shared/expert_1"]
    assert L.PLE(3, levels=2, shared_experts=1, task_experts=2).expert_names(0) == [
        "task_0/expert_0", "task_0/expert_1", "shared/expert_0"]


def relu(x):
    return np.maximum(x, 0.0)


def softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_mmoe_matches_closed_form():
    """f_k(x) = Σ_i softmax(W_gk x + b_gk)_i relu(x W_i + b_i), computed in NumPy."""
    layer = L.MMoE(2, num_experts=3, expert_units=(4,))
    x = inputs(5, 2)
    outputs = layer(x)
    kernel, bias = (v.numpy() for v in (layer.experts.kernels[0], layer.experts.biases[0]))
    experts = relu(np.einsum("bti,nio->btno", x, kernel) + bias)
    for gate, output in zip(layer.gates, outputs):
        g = softmax(x @ gate.logits.kernel.numpy() + gate.logits.bias.numpy())
        np.testing.assert_allclose(output, np.einsum("btn,btno->bto", g, experts), atol=1e-5)


def test_ple_matches_closed_form():
    """Two levels: task k's level-2 experts and gate read y_k^1, the shared ones read y_s^1."""
    layer = L.PLE(2, levels=2, shared_experts=2, task_experts=1, expert_units=(4,))
    x = inputs(6)
    outputs = layer(x)

    def experts(stack, h):
        return relu(np.einsum("bi,nio->bno", h, stack.kernels[0].numpy()) + stack.biases[0].numpy())

    def gate(g, h):
        return softmax(h @ g.logits.kernel.numpy() + g.logits.bias.numpy())

    first, second = layer.levels
    shared, own = experts(first.shared, x), [experts(s, x) for s in first.task]
    ys = [np.einsum("bn,bno->bo", gate(first.task_gates[k], x), np.concatenate([own[k], shared], 1))
          for k in range(2)]
    y_shared = np.einsum("bn,bno->bo", gate(first.shared_gate, x), np.concatenate(own + [shared], 1))
    assert second.shared_gate is None
    shared2 = experts(second.shared, y_shared)
    for k in range(2):
        mixed = np.concatenate([experts(second.task[k], ys[k]), shared2], 1)
        np.testing.assert_allclose(outputs[k], np.einsum("bn,bno->bo", gate(second.task_gates[k], ys[k]), mixed),
                                   atol=1e-5)


def test_mmoe_with_one_expert_is_a_shared_bottom():
    mmoe, bottom = L.MMoE(2, num_experts=1, expert_units=(6, 4)), L.SharedBottom(2, units=(6, 4))
    x = inputs(5, 3)
    mmoe.build(x.shape), bottom.build(x.shape)
    for depth, dense in enumerate(bottom.mlp.dense):
        mmoe.experts.kernels[depth].assign(dense.kernel.numpy()[None])
        mmoe.experts.biases[depth].assign(dense.bias.numpy()[None])
    assert mmoe.compute_output_shape(x.shape) == bottom.compute_output_shape(x.shape)
    assert mmoe.count_params() == bottom.count_params()  # a one-expert gate has no weights
    assert_all_close(mmoe(x), bottom(x), atol=1e-5)
    with_gates = L.MMoE.from_config({**mmoe.get_config(), "return_gates": True})
    with_gates.build(x.shape)
    with_gates.set_weights(mmoe.get_weights())
    _, gates = with_gates(x)
    for gate in gates:
        np.testing.assert_array_equal(ops.convert_to_numpy(gate), np.ones((5, 3, 1)))


def test_cross_stitch_starts_mixed_and_is_separate_bottom_at_identity():
    stitch, separate = L.CrossStitch(3, units=(6, 4), alpha_self=0.8), L.SeparateBottom(3, units=(6, 4))
    x = inputs(5)
    stitch.build(x.shape), separate.build(x.shape)
    np.testing.assert_allclose(stitch.stitch_matrices[1].numpy(), [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]],
                               atol=1e-7)
    for depth in range(2):  # column i of the stacked kernels is task i's Dense layer
        stitch.columns.kernels[depth].assign(np.stack([m.dense[depth].kernel.numpy() for m in separate.mlps]))
        stitch.columns.biases[depth].assign(np.stack([m.dense[depth].bias.numpy() for m in separate.mlps]))
    assert not np.allclose(stitch(x)[0], separate(x)[0], atol=1e-3)
    for matrix in stitch.stitch_matrices:
        matrix.assign(np.eye(3))
    assert_all_close(stitch(x), separate(x), atol=1e-5)
    h = [relu(x @ mlp.dense[0].kernel.numpy() + mlp.dense[0].bias.numpy()) for mlp in separate.mlps]
    stitch.stitch_matrices[0].assign(np.full((3, 3), 1 / 3))  # x̃_i = mean_j x_j after layer 1
    mean = sum(h) / 3
    expected = [relu(mean @ mlp.dense[1].kernel.numpy() + mlp.dense[1].bias.numpy()) for mlp in separate.mlps]
    assert_all_close(stitch(x), expected, atol=1e-5)
    single = L.CrossStitch(1, units=(3,))
    single.build(x.shape)
    assert single.stitch_matrices[0].numpy().tolist() == [[1.0]]  # T = 1: the stitch starts as the identity


def test_cgc_is_ple_with_one_level():
    cgc = L.CGC(2, shared_experts=2, task_experts=2, expert_units=(4,))
    ple = L.PLE(2, levels=1, shared_experts=2, task_experts=2, expert_units=(4,))
    x = inputs(4, 3)
    cgc.build(x.shape), ple.build(x.shape)
    ple.set_weights(cgc.get_weights())
    assert_all_close(cgc(x), ple(x))


def test_task_outputs_carry_the_padding_mask():
    x = inputs(2, 4)
    x[0, 3] = 0.0
    masked = keras.layers.Masking(0.0)(x)
    for layer in (L.MMoE(2, num_experts=2), L.CrossStitch(2, units=(3,))):
        for output in layer(masked):
            np.testing.assert_array_equal(ops.convert_to_numpy(output._keras_mask),
                                          [[True] * 3 + [False], [True] * 4])


@pytest.mark.parametrize("build, shown", [
    (lambda: L.MMoE(2, num_experts=0), "num_experts=0"),
    (lambda: L.MMoE(0), "num_tasks=0"),
    (lambda: L.MMoE(2, expert_units=()), "expert_units=()"),
    (lambda: L.MMoE(2, gate_units=(4, -1)), "gate_units=(4, -1)"),
    (lambda: L.MMoE(2, return_gates="yes"), "return_gates='yes'"),
    (lambda: L.SharedBottom(2.5), "num_tasks=2.5"),
    (lambda: L.SharedBottom(2, units=[0]), "units=[0]"),
    (lambda: L.SeparateBottom(2, dropout=1.0), "dropout=1.0"),
    (lambda: L.SeparateBottom(2, seed="7"), "seed='7'"),
    (lambda: L.CGC(2, shared_experts=-1), "shared_experts=-1"),
    (lambda: L.CGC(2, activation="wobble"), "activation='wobble'"),
    (lambda: L.PLE(2, levels=0), "levels=0"),
    (lambda: L.PLE(2, task_experts=True), "task_experts=True"),
    (lambda: L.PLE(2, seed=1.5), "seed=1.5"),
    (lambda: L.CrossStitch(2, alpha_self=1.5), "alpha_self=1.5"),
    (lambda: L.CrossStitch(2, units="64"), "units='64'"),
])
def test_bad_arguments_name_argument_and_value(build, shown):
    argument = shown.split("=")[0]
    with pytest.raises(ValueError, match=re.escape(f"`{argument}`") + ".*" + re.escape(f"Received: {shown}")):
        build()


def test_public_surface():
    sharing = ["CGC", "CrossStitch", "MMoE", "PLE", "SeparateBottom", "SharedBottom"]
    assert set(sharing) <= set(L.__all__) and all(hasattr(L, name) for name in L.__all__)
    for name in sharing:
        assert keras.saving.get_registered_object(f"mtlflow>{name}") is getattr(L, name)
