"""Token-bigram features (``encoder.bigrams``) for character-tokenised text.

* the preprocessor's ``bigram_ids`` are each token paired with the next (the last with the
  end of the text), looked up as the Python vocabulary writes them, for any string —
  empty, one character, an emoji, past ``max_length``;
* token dropout turns a dropped token's pair into the unknown id as well;
* a character-level run with bigrams trains, and its exported SavedModel, loaded by plain
  TensorFlow in a fresh process, answers raw unspaced text as the in-process model does;
* config mistakes name ``encoder.bigrams``.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import tensorflow as tf
import yaml

from export_parity import assert_same_outputs, in_process_outputs, serve_in_fresh_process
from mtlflow.config import EncoderConfig, InputsConfig, parse_config
from mtlflow.data.vocabulary import bigram_key, fit_vocabularies
from mtlflow.errors import ConfigError
from mtlflow.model.encoders import TextEncoder
from mtlflow.model.preprocessor import Preprocessor


def test_bigram_ids_pair_each_token_with_the_next():
    inputs = InputsConfig.model_validate({"text": {"tokenizer": "char", "max_length": 5}})
    encoder = EncoderConfig.model_validate({"bigrams": {"dim": 4, "min_count": 1}})
    train = np.array(["取消订单", "我想取消", "好"], dtype=object)
    vocab = fit_vocabularies({"text": train}, inputs, encoder)
    assert vocab.bigrams[:2] == ["", "[UNK]"]
    assert {"取 消", "订 单", "单 ", "好 "} <= set(vocab.bigrams) and "单 好" not in vocab.bigrams
    pre = Preprocessor(inputs, vocab, encoder)
    texts = ["取消订单", "好", "", "   ", "😀好", "我想取消订单了"]  # the last is cut at 5 characters
    got = pre({"text": tf.constant(texts)})
    ids, token_ids = got["bigram_ids"].numpy(), got["token_ids"].numpy()
    assert ids.shape == token_ids.shape
    index = {b: i for i, b in enumerate(vocab.bigrams)}
    for row, text in enumerate(texts):
        chars = [c for c in text if not c.isspace()][:5]
        expected = [index.get(bigram_key(c, d), 1) for c, d in zip(chars, [*chars[1:], ""])]
        assert ids[row].tolist() == expected + [0] * (ids.shape[1] - len(chars)), text


def test_token_dropout_drops_the_pair_with_the_token():
    encoder = TextEncoder(10, embedding_dim=4, units=3, dropout=0.0, token_dropout=0.999999, seed=1,
                          bigrams={"vocab_size": 12, "dim": 5})
    token_ids = np.array([[2, 5, 9, 0], [1, 3, 0, 0]], np.int32)
    bigram_ids = np.array([[7, 11, 4, 0], [3, 1, 0, 0]], np.int32)
    dropped = encoder(token_ids, bigram_ids=bigram_ids, training=True)[0]
    unknown = np.where(token_ids > 0, 1, 0).astype(np.int32)           # every real token unknown, and its pair
    expected = encoder(unknown, bigram_ids=np.where(bigram_ids > 0, 1, 0).astype(np.int32), training=False)[0]
    np.testing.assert_allclose(np.asarray(dropped), np.asarray(expected), rtol=1e-6, atol=1e-6)
    kept_pairs = encoder(unknown, bigram_ids=bigram_ids, training=False)[0]
    assert np.abs(np.asarray(kept_pairs) - np.asarray(expected)).max() > 1e-4  # the pairs do matter
    with pytest.raises(ValueError, match="bigram_ids"):
        encoder(token_ids)


def test_pair_dropout_drops_pairs_and_keeps_the_tokens():
    encoder = TextEncoder(10, embedding_dim=4, units=3, dropout=0.0, seed=1,
                          bigrams={"vocab_size": 12, "dim": 5, "dropout": 0.999999})
    token_ids = np.array([[2, 5, 9, 0], [1, 3, 0, 0]], np.int32)
    bigram_ids = np.array([[7, 11, 4, 0], [3, 1, 0, 0]], np.int32)
    dropped = encoder(token_ids, bigram_ids=bigram_ids, training=True)[0]
    unknown_pairs = np.where(bigram_ids > 0, 1, 0).astype(np.int32)  # every pair unknown, the tokens as they were
    expected = encoder(token_ids, bigram_ids=unknown_pairs, training=False)[0]
    np.testing.assert_allclose(np.asarray(dropped), np.asarray(expected), rtol=1e-6, atol=1e-6)
    kept = encoder(token_ids, bigram_ids=bigram_ids, training=False)[0]  # not dropped outside training
    assert np.abs(np.asarray(kept) - np.asarray(expected)).max() > 1e-4
    unknown_tokens = encoder(np.where(token_ids > 0, 1, 0).astype(np.int32), bigram_ids=unknown_pairs)[0]
    assert np.abs(np.asarray(unknown_tokens) - np.asarray(dropped)).max() > 1e-4  # tokens were kept
    assert TextEncoder.from_config(encoder.get_config()).settings["bigrams"]["dropout"] == 0.999999


def test_a_batch_of_empty_texts_goes_through_the_bigram_encoder():
    encoder = TextEncoder(10, embedding_dim=4, units=3, dropout=0.0, bigrams={"vocab_size": 12, "dim": 5})
    empty = np.zeros((2, 0), np.int32)  # what two "" requests become
    states, pooled = encoder(empty, bigram_ids=empty)
    assert tuple(states.shape) == (2, 0, 6) and tuple(pooled.shape) == (2, 6)


PHRASES = {"positive": ["很好", "不错", "满意", "喜欢"], "negative": ["很差", "失望", "不好", "讨厌"]}
FILLER = list("房间服务酒店早餐位置价格前台环境")


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(sorted(PHRASES))
        text = "".join(rng.choice(FILLER) for _ in range(rng.randint(0, 6))) + rng.choice(PHRASES[label])
        rows.append({"text": text + "".join(rng.choice(FILLER) for _ in range(rng.randint(0, 4))), "label": label})
    return rows


def test_character_run_with_bigrams_exports_and_serves_raw_text(tmp_path):
    from mtlflow.run import train

    for name, n, seed in (("train", 240, 1), ("validation", 60, 2), ("test", 60, 3)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                        for r in _rows(n, seed)), "utf-8")
    config = {
        "data": {"format": "jsonl", "train": "train.jsonl", "validation": "validation.jsonl", "test": "test.jsonl"},
        "inputs": {"text": {"tokenizer": "char", "max_length": 16}},
        "encoder": {"type": "bilstm", "embedding_dim": 8, "units": 8, "pooling": "max", "token_dropout": 0.1,
                    "bigrams": {"dim": 8, "min_count": 2}},
        "tasks": [{"name": "label", "type": "multiclass"}],
        "training": {"epochs": 4, "batch_size": 32, "learning_rate": 0.02, "early_stopping": None,
                     "diagnostics_every": None},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    run, metrics = train(tmp_path / "config.yaml", tmp_path / "run", verbose=False, export=True)
    vocab = json.loads((tmp_path / "run" / "vocab.json").read_text("utf-8"))
    assert "很 好" in vocab["bigrams"]
    assert metrics["label"]["accuracy"] > 0.8  # a two-character phrase decides the label
    texts = ["好", "", "😀", "房间很好", "早餐很差服务不错但是太贵了"]
    served = serve_in_fresh_process(next((tmp_path / "run" / "export").iterdir()), texts)
    assert_same_outputs(served, in_process_outputs(run, texts))


def test_a_vocabulary_fitted_without_bigrams_is_refused_by_name():
    inputs = InputsConfig.model_validate({"text": {"tokenizer": "char"}})
    vocab = fit_vocabularies({"text": np.array(["取消订单"], dtype=object)}, inputs)  # no encoder: no pairs
    assert vocab.bigrams == []
    with pytest.raises(Exception, match=r"encoder.bigrams needs the vocab.json `bigrams`"):
        Preprocessor(inputs, vocab, EncoderConfig.model_validate({"bigrams": {}}))


def test_bigram_mistakes_name_the_key():
    base = {"data": {"train": "train.jsonl"}, "inputs": {"text": {}}, "tasks": [{"name": "y", "type": "binary"}]}
    with pytest.raises(ConfigError, match="encoder.bigrams"):
        parse_config({**base, "encoder": {"type": "pretrained", "path": "x", "bigrams": {"dim": 8}}})
    with pytest.raises(ConfigError, match="encoder.bigrams"):
        parse_config({**base, "encoder": {"bigrams": {"dim": 0}}})
    with pytest.raises(ConfigError, match=r"encoder.bigrams.dropout"):
        parse_config({**base, "encoder": {"bigrams": {"dim": 8, "dropout": 1.0}}})
