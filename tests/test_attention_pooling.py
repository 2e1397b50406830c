"""``encoder.pooling: attention``: a learned softmax weighting of the real tokens' states."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def _pool(states, mask, scores):
    from mtlflow.model.encoders import masked_pool

    return np.asarray(masked_pool(np.asarray(states, "float32"), np.asarray(mask, bool), "attention",
                                  np.asarray(scores, "float32")))


def test_weights_are_the_softmax_of_the_scores_over_real_tokens():
    states = [[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]]  # the third token is padding
    scores = [[0.0, np.log(3.0), 100.0]]             # padding's score must not count
    # α = softmax(0, log 3) = (1/4, 3/4) over the two real tokens
    np.testing.assert_allclose(_pool(states, [[1, 1, 0]], scores), [[0.25, 0.75]], rtol=1e-6)


def test_equal_scores_give_the_mean_and_an_empty_text_gives_zeros():
    states = np.arange(12, dtype="float32").reshape(2, 3, 2)
    pooled = _pool(states, [[1, 1, 1], [0, 0, 0]], np.zeros((2, 3)))
    np.testing.assert_allclose(pooled[0], states[0].mean(axis=0), rtol=1e-6)
    np.testing.assert_array_equal(pooled[1], [0.0, 0.0])


def test_text_encoder_pools_by_attention_and_ignores_padding():
    from mtlflow.model.encoders import TextEncoder

    encoder = TextEncoder(20, kind="bilstm", embedding_dim=8, units=4, dropout=0.0, pooling="attention", seed=0)
    ids = np.array([[5, 6, 7]], "int32")
    padded = np.array([[5, 6, 7, 0, 0]], "int32")
    tokens, pooled = encoder(ids)
    _, pooled_padded = encoder(padded)
    assert tokens.shape == (1, 3, 8) and pooled.shape == (1, 8)
    np.testing.assert_allclose(np.asarray(pooled), np.asarray(pooled_padded), atol=1e-6)
    assert len(encoder.attention_scores.trainable_weights) == 3  # W, b, v
    # the pooled vector is a convex combination of the token states: inside their range
    t = np.asarray(tokens)[0]
    assert np.all(np.asarray(pooled)[0] <= t.max(axis=0) + 1e-6) and np.all(np.asarray(pooled)[0] >= t.min(axis=0) - 1e-6)


def test_attention_pooling_config_errors_name_the_key():
    from mtlflow.config import parse_config
    from mtlflow.errors import ConfigError

    stub = {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}, "tasks": [{"name": "intent", "type": "multiclass"}]}
    with pytest.raises(ConfigError, match=r"encoder.pooling: a pretrained encoder pools by 'mean' or 'cls', not 'attention'"):
        parse_config({**stub, "encoder": {"type": "pretrained", "path": "x", "pooling": "attention"}})
    with pytest.raises(ConfigError, match=r"encoder.pooling: 'cls' pooling needs encoder type 'pretrained'; use mean, max or attention"):
        parse_config({**stub, "encoder": {"type": "bilstm", "pooling": "cls"}})
    assert parse_config({**stub, "encoder": {"type": "bigru", "pooling": "attention"}}).encoder.pooling == "attention"


def test_a_run_with_attention_pooling_reloads_with_the_same_outputs(tmp_path):
    """Trained, then rebuilt from its directory in the same process: every variable of the
    pooling must find its checkpoint value (names that do not depend on what was built before)."""
    import yaml

    from conftest import write_synthetic_project
    from mtlflow.run import load_run, train

    path = write_synthetic_project(tmp_path / "p", n_train=120, epochs=1)
    config = yaml.safe_load(path.read_text("utf-8"))
    config["encoder"].update(embedding_dim=8, units=8, pooling="attention")
    path.write_text(yaml.safe_dump(config), "utf-8")
    trained, _ = train(path, tmp_path / "run", verbose=False, export=False)
    reloaded = load_run(tmp_path / "run")
    texts = {"text": ["red green blue", "", "好"]}
    assert trained.inference().predict(texts) == reloaded.inference().predict(texts)
