"""The synthetic sentence-vector generator: seeded, one world per ``world_seed``, intents and
keywords recoverable from the vectors by simple closed-form rules, JSONL the reader accepts."""

import numpy as np
import pytest

from mtlflow.data.synthetic_vectors import INTENTS, KEYWORDS, TYPICAL, sentence_vectors, write_splits


def keyword_matrix(data) -> np.ndarray:
    return np.array([[k in ks for k in KEYWORDS] for ks in data["keywords"]], bool)


def test_shapes_and_seeds():
    a, b = sentence_vectors(50, seed=1), sentence_vectors(50, seed=1)
    assert a["vector"].shape == (50, 768) and a["vector"].dtype == np.float32
    assert np.array_equal(a["vector"], b["vector"]) and list(a["keywords"]) == list(b["keywords"])
    assert not np.array_equal(a["vector"], sentence_vectors(50, seed=2)["vector"])


def test_keyword_rates_follow_the_intent():
    data = sentence_vectors(6000, seed=3)
    has = keyword_matrix(data)
    typical = np.array([[k in TYPICAL[i] for k in KEYWORDS] for i in data["intent"]])
    assert abs(has[typical].mean() - 0.6) < 0.03 and abs(has[~typical].mean() - 0.04) < 0.01


def test_structure_is_recoverable_across_splits():
    """Nearest class mean (fitted on one split) recovers the intent of another drawn in the same
    world, and the difference of means along a keyword separates its presence; in another world
    the fitted means are useless."""
    train, test = sentence_vectors(3000, seed=1), sentence_vectors(1000, seed=2)
    means = np.stack([train["vector"][train["intent"] == name].mean(axis=0) for name in INTENTS])

    def nearest_mean_accuracy(data):
        distances = ((data["vector"][:, None, :] - means[None]) ** 2).sum(axis=-1)
        return float((np.array(INTENTS)[distances.argmin(axis=1)] == data["intent"]).mean())

    assert nearest_mean_accuracy(test) > 0.7  # chance 0.1
    assert nearest_mean_accuracy(sentence_vectors(1000, seed=2, world_seed=1)) < 0.3
    has_train, has_test = keyword_matrix(train), keyword_matrix(test)
    from mtlflow.evaluate.metrics import roc_auc

    for j in range(len(KEYWORDS)):
        direction = train["vector"][has_train[:, j]].mean(axis=0) - train["vector"][~has_train[:, j]].mean(axis=0)
        assert roc_auc(has_test[:, j].astype(float), test["vector"] @ direction) > 0.8, KEYWORDS[j]


def test_written_splits_read_as_dense_input(tmp_path):
    from mtlflow.data.readers import read_table

    paths = write_splits(tmp_path, scale=0.01)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.jsonl", "train.jsonl", "validation.jsonl"]
    table = read_table(str(paths["train"]), "jsonl")
    assert len(table.rows) == 60 and len(table.rows[0]["vector"]) == 768
    assert set(table.rows[0]) == {"vector", "intent", "keywords"}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="`n` must be a positive integer"):
        sentence_vectors(-1)
    with pytest.raises(ValueError, match="`typical_rate` must be in \\[0, 1\\]. Received: typical_rate=1.5"):
        sentence_vectors(10, typical_rate=1.5)
