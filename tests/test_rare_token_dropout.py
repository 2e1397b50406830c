"""``encoder.rare_token_dropout``: rare training tokens are replaced by the unknown id (Lample et al., 2016)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")


def test_vocabulary_counts_rank_the_tokens_and_mark_the_rare_suffix():
    import tensorflow as tf  # noqa: F401  (the tokenizer the model runs)

    from mtlflow.config import parse_config
    from mtlflow.data.vocabulary import first_rare_id, fit_vocabularies

    config = parse_config({"data": {"train": "x.jsonl"}, "inputs": {"text": {"tokenizer": "whitespace"}},
                           "tasks": [{"name": "t", "type": "multiclass"}]})
    texts = np.array(["play jazz", "play jazz now", "play lima", "play oslo"], dtype=object)
    vocab = fit_vocabularies({"text": texts}, config.inputs)
    assert vocab.tokens[:4] == ["", "[UNK]", "play", "jazz"]
    assert vocab.token_counts == [0, 0, 4, 2, 1, 1, 1]  # jazz 2; lima, now, oslo once
    assert first_rare_id(vocab.token_counts, 1) == 4
    assert first_rare_id(vocab.token_counts, 2) == 3
    assert first_rare_id(vocab.token_counts[:4], 1) == 4  # nothing rare: the vocabulary's size


def test_rare_ids_are_dropped_at_their_rate_and_the_rest_at_theirs():
    from mtlflow.model.encoders import TextEncoder, _unknown_where
    from keras import ops
    import keras

    encoder = TextEncoder(100, embedding_dim=4, units=2, token_dropout=0.1, rare_token_dropout=0.5,
                          rare_from=50, seed=3)
    frequent = np.full((200, 100), 7, "int32")
    rare = np.full((200, 100), 77, "int32")
    ids = np.concatenate([frequent, rare, np.zeros((200, 100), "int32")])  # and padding
    drop = keras.random.uniform(ids.shape, seed=encoder.token_seed) < encoder.drop_rates(ids)
    out = np.asarray(_unknown_where(drop, ops.convert_to_tensor(ids)))
    assert np.mean(out[:200] == 1) == pytest.approx(0.1, abs=0.01)
    assert np.mean(out[200:400] == 1) == pytest.approx(0.5, abs=0.01)
    assert np.all(out[400:] == 0)  # padding stays padding


def test_in_training_a_rare_token_reads_as_unknown():
    from mtlflow.model.encoders import TextEncoder

    encoder = TextEncoder(10, embedding_dim=4, units=3, dropout=0.0, rare_token_dropout=0.999999, rare_from=6, seed=0)
    with_rare = np.array([[2, 3, 7, 8]], "int32")
    unknown = np.array([[2, 3, 1, 1]], "int32")
    states, _ = encoder(with_rare, training=True)
    expected, _ = encoder(unknown, training=False)
    np.testing.assert_allclose(np.asarray(states), np.asarray(expected), atol=1e-6)
    served, _ = encoder(with_rare, training=False)  # never at inference
    assert not np.allclose(np.asarray(served), np.asarray(expected))


def test_config_errors_name_the_key():
    from mtlflow.config import parse_config
    from mtlflow.errors import ConfigError

    stub = {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}, "tasks": [{"name": "t", "type": "multiclass"}]}
    with pytest.raises(ConfigError, match=r"encoder.rare_token_dropout: a pretrained encoder"):
        parse_config({**stub, "encoder": {"type": "pretrained", "path": "x", "rare_token_dropout": 0.5}})
    with pytest.raises(ConfigError, match=r"encoder\.rare_count"):
        parse_config({**stub, "encoder": {"rare_token_dropout": 0.5, "rare_count": 0}})
    # min_count 2 keeps no token seen once: rare_count 1 would select nothing
    with pytest.raises(ConfigError, match=r"encoder.rare_count: is 1, but .*min_count=2 .* no token is rare"):
        parse_config({**stub, "inputs": {"text": {"min_count": 2}}, "encoder": {"rare_token_dropout": 0.5}})
    parse_config({**stub, "inputs": {"text": {"min_count": 2}}, "encoder": {"rare_token_dropout": 0.5, "rare_count": 2}})


def test_a_run_with_rare_token_dropout_trains_saves_and_reloads(tmp_path):
    import yaml

    from conftest import write_synthetic_project
    from mtlflow.run import load_run, train

    path = write_synthetic_project(tmp_path / "p", n_train=120, epochs=1)
    config = yaml.safe_load(path.read_text("utf-8"))
    config["encoder"].update(embedding_dim=8, units=8, rare_token_dropout=0.5, rare_count=2)
    path.write_text(yaml.safe_dump(config), "utf-8")
    train(path, tmp_path / "run", verbose=False, export=False)
    run = load_run(tmp_path / "run")
    encoder = next(layer for layer in run.model.layers if layer.name.endswith("text_encoder"))
    counts = run.vocab.token_counts
    assert len(counts) == len(run.vocab.tokens) and counts[2:] == sorted(counts[2:], reverse=True)
    rare_from = encoder.get_config()["rare_from"]
    assert all(c > 2 for c in counts[2:rare_from]) and all(c <= 2 for c in counts[rare_from:])
