"""Viterbi decoding: brute force agrees, TF agrees with NumPy, constraints give valid BIO."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.evaluate.spans import validate_tags
from mtlflow.tasks.viterbi import NEG, bio_constraints, viterbi_numpy, viterbi_tf

TAGS = {"bio": ["O", "B-a", "I-a", "B-b", "I-b"],
        "bioes": ["O", "B-a", "I-a", "E-a", "S-a", "B-b", "I-b", "E-b", "S-b"]}


def brute_force(scores, transitions, start, end):
    best, best_path = -np.inf, None
    for path in itertools.product(range(scores.shape[1]), repeat=len(scores)):
        total = start[path[0]] + end[path[-1]] + sum(scores[t, y] for t, y in enumerate(path))
        total += sum(transitions[a, b] for a, b in zip(path, path[1:]))
        if total > best:
            best, best_path = total, path
    return list(best_path)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_numpy_viterbi_is_the_brute_force_optimum(scheme):
    tags = TAGS[scheme][:5]
    transitions, start, end = bio_constraints(tags, scheme)
    rng = np.random.default_rng(0)
    for _ in range(30):
        scores = np.log(rng.dirichlet(np.ones(len(tags)), size=rng.integers(1, 5)))
        assert viterbi_numpy(scores, transitions, start, end).tolist() == brute_force(scores, transitions, start, end)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_graph_viterbi_matches_numpy_on_padded_batches(scheme):
    tags = TAGS[scheme]
    transitions, start, end = bio_constraints(tags, scheme)
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 9, size=40)
    scores = np.log(rng.dirichlet(np.ones(len(tags)), size=(40, 8))).astype(np.float32)
    mask = np.arange(8)[None] < lengths[:, None]
    paths = viterbi_tf(scores, mask, transitions, start, end).numpy()
    for i, n in enumerate(lengths):
        expected = viterbi_numpy(scores[i, :n], transitions, start, end)
        assert paths[i, :n].tolist() == expected.tolist()
        assert not paths[i, n:].any()
        assert validate_tags([tags[t] for t in expected], scheme) is None


def test_constraints_forbid_inside_tags_after_outside():
    transitions, start, end = bio_constraints(TAGS["bio"], "bio")
    o, b_a, i_a, b_b, i_b = range(5)
    assert transitions[o, i_a] == NEG and start[i_a] == NEG
    assert transitions[b_a, i_a] == 0 and transitions[i_a, i_a] == 0
    assert transitions[b_a, i_b] == NEG and transitions[b_a, b_b] == 0
    # argmax would give O I-a; the constrained best is B-a I-a
    scores = np.log(np.array([[0.5, 0.45, 0.05, 0.0001, 0.0001], [0.1, 0.1, 0.8, 0.0001, 0.0001]]))
    assert viterbi_numpy(scores, transitions, start, end).tolist() == [b_a, i_a]


def test_graph_viterbi_single_step():
    transitions, start, end = bio_constraints(TAGS["bio"], "bio")
    scores = tf.math.log(tf.constant([[[0.1, 0.3, 0.5, 0.05, 0.05]]]))
    assert viterbi_tf(scores, tf.constant([[True]]), transitions, start, end).numpy().tolist() == [[1]]


def test_graph_viterbi_single_step_in_a_traced_function_with_static_shapes():
    """A one-token batch inside tf.function (static time = 1): the served graph's case."""
    transitions, start, end = bio_constraints(TAGS["bio"], "bio")
    scores = tf.math.log(tf.constant([[[0.1, 0.3, 0.5, 0.05, 0.05]], [[0.6, 0.1, 0.1, 0.1, 0.1]]]))
    decode = tf.function(lambda s: viterbi_tf(s, tf.ones([2, 1], tf.bool), transitions, start, end))
    assert decode(scores).numpy().tolist() == [[1], [0]]
