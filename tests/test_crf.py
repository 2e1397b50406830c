"""The CRF layer against brute force, and a tagging task with ``decoder: crf`` end to end."""

from __future__ import annotations

import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from mtlflow.layers import CRF
from mtlflow.tasks.viterbi import NEG, viterbi_numpy

BIO = ["O", "B-x", "I-x"]


def crf_with_random_potentials(num_tags=3, seed=0, **kwargs) -> CRF:
    rng = np.random.default_rng(seed)
    crf = CRF(num_tags, **kwargs)
    crf.build((None, None, num_tags))
    crf.transitions.assign(rng.normal(size=(num_tags, num_tags)).astype("float32"))
    crf.start_transitions.assign(rng.normal(size=num_tags).astype("float32"))
    crf.end_transitions.assign(rng.normal(size=num_tags).astype("float32"))
    return crf


def path_score(crf: CRF, emissions: np.ndarray, path) -> float:
    """``s(y)`` written out, over the CRF's potentials (constraints included)."""
    transitions, start, end = crf.numpy_potentials()
    total = start[path[0]] + end[path[-1]] + sum(emissions[t, y] for t, y in enumerate(path))
    return float(total + sum(transitions[a, b] for a, b in zip(path, path[1:])))


def all_paths(num_tags: int, length: int):
    return list(itertools.product(range(num_tags), repeat=length))


# ---- the layer against brute-force enumeration --------------------------------------


def test_log_partition_is_the_log_sum_over_all_tag_sequences():
    crf = crf_with_random_potentials()
    emissions = np.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")  # 3 tags × 4 steps
    mask = np.ones((2, 4), bool)
    got = crf.log_partition(emissions, mask).numpy()
    for b in range(2):
        scores = [path_score(crf, emissions[b], p) for p in all_paths(3, 4)]
        assert got[b] == pytest.approx(np.logaddexp.reduce(scores), abs=1e-4)


def test_negative_log_likelihood_is_log_z_minus_the_gold_score():
    crf = crf_with_random_potentials(seed=2)
    emissions = np.random.default_rng(3).normal(size=(1, 4, 3)).astype("float32")
    gold = [0, 2, 2, 1]
    log_z = np.logaddexp.reduce([path_score(crf, emissions[0], p) for p in all_paths(3, 4)])
    nll = crf.negative_log_likelihood(emissions, np.array([gold]), np.ones((1, 4), bool)).numpy()[0]
    assert nll == pytest.approx(log_z - path_score(crf, emissions[0], gold), abs=1e-4)


def test_viterbi_is_the_brute_force_argmax_in_graph_and_numpy():
    crf = crf_with_random_potentials(seed=4)
    rng = np.random.default_rng(5)
    for _ in range(10):
        emissions = rng.normal(size=(1, 4, 3)).astype("float32")
        best = max(all_paths(3, 4), key=lambda p: path_score(crf, emissions[0], p))
        assert crf.decode(emissions, np.ones((1, 4), bool)).numpy()[0].tolist() == list(best)
        assert viterbi_numpy(emissions[0], *crf.numpy_potentials()).tolist() == list(best)


def test_padded_positions_change_neither_likelihood_nor_decoding():
    crf = crf_with_random_potentials(seed=6)
    rng = np.random.default_rng(7)
    short = rng.normal(size=(1, 3, 3)).astype("float32")
    gold = np.array([[1, 2, 0]])
    alone = crf.negative_log_likelihood(short, gold, np.ones((1, 3), bool)).numpy()[0]
    for fill in (0.0, 50.0, -50.0):
        padded = np.concatenate([short, np.full((1, 3, 3), fill, "float32")], axis=1)
        tags = np.concatenate([gold, rng.integers(0, 3, (1, 3))], axis=1)
        mask = np.array([[True] * 3 + [False] * 3])
        assert crf.negative_log_likelihood(padded, tags, mask).numpy()[0] == pytest.approx(alone, abs=1e-4)
        assert crf.decode(padded, mask).numpy()[0].tolist() == crf.decode(short, mask[:, :3]).numpy()[0].tolist() + [0] * 3
        # the per-token terms the trainer masks: their sum over real tokens is the sentence NLL
        assert crf.token_losses(padded, tags).numpy()[0, :3].sum() == pytest.approx(alone, abs=1e-4)


def test_token_losses_sum_to_the_nll_of_every_prefix():
    crf = crf_with_random_potentials(seed=8, tags=["O", "B-x", "I-x"], scheme="bio")
    emissions = np.random.default_rng(9).normal(size=(1, 5, 3)).astype("float32")
    tags = np.array([[1, 2, 0, 1, 2]])  # valid BIO at every cut
    terms = crf.token_losses(emissions, tags).numpy()[0]
    for n in range(1, 6):
        mask = np.arange(5)[None] < n
        assert terms[:n].sum() == pytest.approx(crf.negative_log_likelihood(emissions, tags, mask).numpy()[0], abs=1e-4)


def test_with_zero_potentials_the_loss_is_the_softmax_cross_entropy():
    crf = CRF(3)
    crf.build((None, None, 3))
    emissions = np.random.default_rng(10).normal(size=(2, 4, 3)).astype("float32")
    tags = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    expected = keras.losses.sparse_categorical_crossentropy(tags, emissions, from_logits=True)
    np.testing.assert_allclose(crf.token_losses(emissions, tags).numpy(), expected.numpy(), atol=1e-5)


def test_marginals_are_brute_force_posteriors_and_zero_at_padding():
    crf = crf_with_random_potentials(seed=11)
    emissions = np.random.default_rng(12).normal(size=(1, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False]])
    paths = all_paths(3, 3)
    weights = np.exp([path_score(crf, emissions[0, :3], p) for p in paths])
    expected = np.zeros((3, 3))
    for p, w in zip(paths, weights / weights.sum()):
        expected[np.arange(3), p] += w
    got = crf.marginals(emissions, mask).numpy()[0]
    np.testing.assert_allclose(got[:3], expected, atol=1e-5)
    assert not got[3].any()


def test_empty_sentences_and_empty_batches_are_finite():
    crf = crf_with_random_potentials()
    assert crf.log_partition(np.ones((2, 3, 3), "float32"), np.zeros((2, 3), bool)).numpy().tolist() == [0.0, 0.0]
    assert crf.decode(np.zeros((2, 0, 3), "float32"), np.zeros((2, 0), bool)).shape == (2, 0)
    assert crf.token_losses(np.zeros((2, 0, 3), "float32"), np.zeros((2, 0), "int32")).shape == (2, 0)


# ---- constraints -----------------------------------------------------------------


def test_constraints_forbid_invalid_bio_transitions_in_decoding():
    crf = CRF(3, tags=BIO, scheme="bio")
    crf.build((None, None, 3))
    # per token, I-x is by far the best tag: unconstrained, "I-x I-x O" would win
    emissions = np.log(np.array([[[0.05, 0.15, 0.8], [0.05, 0.15, 0.8], [0.9, 0.05, 0.05]]], "float32"))
    assert crf.decode(emissions, np.ones((1, 3), bool)).numpy()[0].tolist() == [1, 2, 0]  # B-x I-x O
    free = CRF(3)
    free.build((None, None, 3))
    assert free.decode(emissions, np.ones((1, 3), bool)).numpy()[0].tolist() == [2, 2, 0]


def test_constraints_restrict_the_likelihood_to_valid_sequences():
    crf = crf_with_random_potentials(seed=13, tags=BIO, scheme="bio")
    emissions = np.random.default_rng(14).normal(size=(1, 4, 3)).astype("float32")
    valid = [p for p in all_paths(3, 4) if path_score(crf, emissions[0], p) > NEG / 2]
    assert len(valid) < 3 ** 4 and all(p[0] != 2 and "02" not in "".join(map(str, p)) for p in valid)
    scores = [path_score(crf, emissions[0], p) for p in valid]
    assert crf.log_partition(emissions, np.ones((1, 4), bool)).numpy()[0] == pytest.approx(
        np.logaddexp.reduce(scores), abs=1e-4)


def test_bioes_constraints_forbid_ending_inside_a_span():
    tags = ["O", "B-x", "I-x", "E-x", "S-x"]
    crf = CRF(5, tags=tags, scheme="bioes")
    crf.build((None, None, 5))
    emissions = np.log(np.full((1, 2, 5), 0.05, "float32"))
    emissions[0, :, 1] = np.log(0.8)  # B-x everywhere: "B-x B-x" is invalid twice over
    assert [tags[i] for i in crf.decode(emissions, np.ones((1, 2), bool)).numpy()[0]] == ["B-x", "E-x"]


# ---- Keras contract ----------------------------------------------------------------


def test_config_round_trip_and_registration():
    crf = CRF(3, tags=BIO, scheme="bio", name="slots")
    clone = CRF.from_config(crf.get_config())
    assert (clone.num_tags, clone.tags, clone.scheme, clone.name) == (3, BIO, "bio", "slots")
    assert keras.saving.get_registered_object("mtlflow>CRF") is CRF


def test_saved_keras_model_keeps_the_learned_transitions(tmp_path):
    inputs = keras.Input((None, 4))
    crf = CRF(3, tags=BIO, scheme="bio")
    model = keras.Model(inputs, crf(keras.layers.Dense(3)(inputs)))
    crf.transitions.assign(np.arange(9, dtype="float32").reshape(3, 3))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    layer = next(l for l in loaded.layers if isinstance(l, CRF))
    np.testing.assert_array_equal(layer.transitions.numpy(), crf.transitions.numpy())
    assert layer.scheme == "bio" and layer.tags == BIO


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_tags=0), "num_tags=0"),
    (dict(num_tags=3, scheme="iob1", tags=BIO), "scheme='iob1'"),
    (dict(num_tags=3, scheme="bio"), "tags=None"),
    (dict(num_tags=2, tags=BIO), "tags=['O', 'B-x', 'I-x']"),
])
def test_bad_arguments_are_quoted(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CRF(**kwargs)


def test_emission_width_must_match_num_tags():
    with pytest.raises(ValueError, match="num_tags=3"):
        CRF(3)(keras.ops.zeros((1, 2, 4)))


# ---- the tagging task with decoder: crf -----------------------------------------------


def crf_task(labels=("O", "B-item", "I-item", "B-place"), **spec):
    from mtlflow.tasks.tagging import TaggingSpec, TaggingTask

    task = TaggingTask(TaggingSpec(name="tags", type="tagging", decoder="crf", **spec))
    task.labels = list(labels)
    return task


def test_softmax_stays_the_default_decoder():
    from mtlflow.tasks.tagging import TaggingSpec

    assert TaggingSpec(name="t", type="tagging").decoder == "softmax"


def test_invalid_gold_sequences_are_label_errors_only_under_a_constrained_crf():
    from mtlflow.tasks import LabelError

    with pytest.raises(LabelError, match=r"data\.conll:7: task 'tags': .*I-item.*constrained: false"):
        crf_task().encode(["O", "I-item"], "data.conll:7")
    assert crf_task(constrained=False).encode(["O", "I-item"], "x:1")[1] == 1.0
    ids, mask = crf_task().encode(["B-item", "I-item", "O"], "x:1")
    assert ids.tolist() == [1, 2, 0] and mask == 1.0


def test_task_loss_masked_mean_is_the_nll_per_token_with_narrow_labels():
    from mtlflow.train.losses import masked_mean

    task = crf_task()
    emissions = keras.Input((None, 8))
    model = keras.Model(emissions, task.build_head(emissions))
    x = np.random.default_rng(15).normal(size=(2, 5, 8)).astype("float32")
    y_pred = model(x)
    labels = np.array([[1, 2, 0], [3, 0, 0]], "int32")  # narrower than the 5 time steps
    mask = np.array([[1, 1, 1], [1, 1, 0]], "float32")
    loss = masked_mean(task.per_example_loss(labels, y_pred), mask).numpy()
    nll = task.crf.negative_log_likelihood(y_pred, np.pad(labels, [[0, 0], [0, 2]]),
                                           np.pad(mask, [[0, 0], [0, 2]]) > 0).numpy()
    assert loss == pytest.approx(nll.sum() / mask.sum(), abs=1e-5)


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory):
    from conftest import synthetic_rows, write_jsonl, write_synthetic_project

    from mtlflow.run import train

    root = tmp_path_factory.mktemp("crf")
    config = write_synthetic_project(root / "project", n_train=200, epochs=3)
    write_jsonl(synthetic_rows(60, seed=2), root / "project" / "validation.jsonl")  # smaller: a faster test
    write_jsonl(synthetic_rows(100, seed=3), root / "project" / "test.jsonl")
    text = config.read_text("utf-8").replace("batch_size: 32", "batch_size: 16").replace("0.01", "0.02")
    for line in ("  - {name: topic, type: multiclass}\n", "  - {name: colors, type: multilabel}\n",
                 "  - {name: flag, type: binary}\n", "  - {name: score, type: regression}\n"):
        text = text.replace(line, "")
    config.write_text(text.replace("{name: tags, type: tagging}", "{name: tags, type: tagging, decoder: crf}"), "utf-8")
    run, metrics = train(config, root / "run", verbose=False)
    return run, metrics


def test_crf_tagger_trains_to_a_good_span_f1(crf_run):
    run, metrics = crf_run
    assert metrics["tags"]["f1"] > 0.9, metrics["tags"]
    assert 0 <= metrics["tags"]["loss"] < 0.5
    layer = run.model.get_layer("tags")
    assert isinstance(layer, CRF) and run.tasks["tags"].crf is layer
    assert np.abs(layer.transitions.numpy()).max() > 0.05  # the transitions learned something


def test_saved_model_decodes_like_the_in_process_model_and_the_evaluator(crf_run):
    run, _ = crf_run
    texts = ["w1 xa xb w3 town", "town w5 xa xb", "unseen words xa only"]
    served = tf.saved_model.load(str(run.directory / "export" / "1")).signatures["serving_default"](
        text=tf.constant(texts))
    local = run.inference().serve({"text": tf.constant(texts)})
    assert {k for k in served if k.startswith("tags_")} == {k for k in local if k.startswith("tags_")}
    for key in local:
        if local[key].dtype == tf.string:
            assert served[key].numpy().tolist() == local[key].numpy().tolist(), key
        else:
            np.testing.assert_allclose(served[key].numpy(), local[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)
    assert [t.decode() for t in served["tags_tags"].numpy()[0]] == ["O", "B-item", "I-item", "O", "B-place"]
    # the evaluator's NumPy Viterbi over the model's emission scores agrees with the graph
    task = run.tasks["tags"]
    emissions = run.model(run.preprocessor({"text": tf.constant(texts)}), training=False)["tags"].numpy()
    lengths = [len(t.split()) for t in texts]
    for row, (scores, n) in enumerate(zip(emissions, lengths)):
        assert task.best_tags(scores[:n]) == [t.decode() for t in served["tags_tags"].numpy()[row][:n]]
    scores = served["tags_tag_scores"].numpy()
    assert ((scores > 0) & (scores <= 1 + 1e-6)).sum() == sum(lengths)  # marginal probabilities


def test_a_reloaded_run_binds_its_own_crf_and_decodes_the_same(crf_run):
    from mtlflow.run import load_run

    run, _ = crf_run
    reloaded = load_run(run.directory)
    assert reloaded.tasks["tags"].crf is reloaded.model.get_layer("tags") is not run.model.get_layer("tags")
    texts = ["xa xb w2 town w9"]
    decoded = [reloaded.inference().predict({"text": texts})[0]["tags"], run.inference().predict({"text": texts})[0]["tags"]]
    assert decoded[0] == decoded[1] and [s["text"] for s in decoded[0]["spans"]] == ["xa xb", "town"]
