"""Sequences of zero and one token through Viterbi, the CRF and the text encoders, traced as exported.

Under ``tf.function`` with ``[None, None]`` shapes (as in the SavedModel) a ``tf.scan`` or
an RNN over zero steps fails at run time; these are the closed forms the padded recursions
must give instead.
"""

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.layers.crf import CRF
from mtlflow.model.encoders import TextEncoder
from mtlflow.tasks.viterbi import bio_constraints, viterbi_numpy, viterbi_tf

TAGS = ["O", "B-x", "I-x"]
SCORES = tf.TensorSpec([None, None, 3], tf.float32)
MASK = tf.TensorSpec([None, None], tf.bool)


@pytest.mark.parametrize("lengths", [[0], [1], [0, 0], [1, 1], [1, 0], [0, 2], [3, 1, 0]])
def test_constrained_viterbi_on_empty_and_one_token_batches(lengths):
    transitions, start, end = bio_constraints(TAGS)
    decode = tf.function(lambda s, m: viterbi_tf(s, m, transitions, start, end), input_signature=[SCORES, MASK])
    rng = np.random.default_rng(len(lengths) + sum(lengths))
    scores = rng.normal(size=(len(lengths), max(lengths), 3)).astype(np.float32)
    mask = np.arange(max(lengths))[None] < np.array(lengths)[:, None]
    paths = decode(scores, mask).numpy()
    assert paths.shape == mask.shape
    for row, n in enumerate(lengths):
        np.testing.assert_array_equal(paths[row, :n], viterbi_numpy(scores[row, :n], transitions, start, end))
        assert (paths[row, n:] == 0).all()
    one = np.array([[0.0, 5.0, 9.0]], np.float32)  # I-x would score best, but a sentence cannot start inside a span
    np.testing.assert_array_equal(viterbi_numpy(one, transitions, start, end), [1])


def test_crf_on_one_and_zero_tokens_matches_the_closed_form():
    crf = CRF(3, tags=TAGS, scheme="bio")
    crf(tf.zeros((1, 2, 3)))
    crf.transitions.assign(np.arange(9, dtype=np.float32).reshape(3, 3) / 10)
    crf.start_transitions.assign([0.3, -0.2, 0.1])
    crf.end_transitions.assign([0.0, 0.5, -0.4])
    _, start, end = (p.numpy() for p in crf.potentials())
    emissions = np.array([[[1.0, 2.0, -1.0]], [[0.5, 0.0, 0.2]]], np.float32)  # [2, 1, 3]: one token each
    mask = np.array([[True], [False]])  # the second sentence has no token
    log_partition = tf.function(crf.log_partition, input_signature=[SCORES, MASK])
    marginals = tf.function(crf.marginals, input_signature=[SCORES, MASK])
    decode = tf.function(crf.decode, input_signature=[SCORES, MASK])
    losses = tf.function(crf.token_losses, input_signature=[SCORES, tf.TensorSpec([None, None], tf.int32)])

    potentials = emissions[0, 0] + start + end  # one token: p(y) ∝ exp(start + e + end)
    expected_log_z = np.log(np.exp(potentials).sum())
    np.testing.assert_allclose(log_partition(emissions, mask).numpy(), [expected_log_z, 0.0], rtol=1e-5)
    np.testing.assert_allclose(marginals(emissions, mask).numpy()[0, 0], np.exp(potentials - expected_log_z), rtol=1e-5)
    assert (marginals(emissions, mask).numpy()[1] == 0).all()
    assert decode(emissions, mask).numpy().tolist() == [[int(np.argmax(potentials))], [0]]
    gold = np.array([[1], [0]], np.int32)
    learned_end = crf.end_transitions.numpy()
    expected_loss = expected_log_z - (emissions[0, 0, 1] + start[1] + learned_end[1])
    np.testing.assert_allclose(losses(emissions, gold).numpy()[0], [expected_loss], rtol=1e-5)
    empty = np.zeros((2, 0, 3), np.float32)
    assert log_partition(empty, np.zeros((2, 0), bool)).numpy().tolist() == [0.0, 0.0]
    assert decode(empty, np.zeros((2, 0), bool)).shape == (2, 0)
    assert losses(empty, np.zeros((2, 0), np.int32)).shape == (2, 0)


@pytest.mark.parametrize("kind", ["bilstm", "bigru", "transformer"])
def test_text_encoders_take_batches_without_tokens(kind):
    encoder = TextEncoder(12, kind=kind, embedding_dim=8, units=4, heads=2, ff_units=8, dropout=0.0,
                          char_cnn=dict(vocab_size=6, dim=4, filters=3, widths=[2]))
    specs = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None, None], tf.int32)]
    run = tf.function(lambda ids, chars: encoder(ids, chars, training=False), input_signature=specs)
    states, pooled = run(np.zeros((2, 0), np.int32), np.zeros((2, 0, 0), np.int32))  # two empty texts
    assert states.shape[:2] == (2, 0) and states.shape[2] == pooled.shape[1]
    np.testing.assert_array_equal(pooled.numpy(), 0.0)  # the mean over no token: 0, not 0/0
    one, one_pooled = run(np.array([[5], [0]], np.int32), np.array([[[2, 3]], [[0, 0]]], np.int32))
    padded, padded_pooled = run(np.array([[5, 0, 0]], np.int32), np.array([[[2, 3], [0, 0], [0, 0]]], np.int32))
    np.testing.assert_allclose(one.numpy()[0], padded.numpy()[0, :1], atol=1e-6)  # padding changes nothing
    np.testing.assert_allclose(one_pooled.numpy()[0], padded_pooled.numpy()[0], atol=1e-6)
    np.testing.assert_array_equal(one_pooled.numpy()[1], 0.0)
