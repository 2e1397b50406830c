"""``encoder: {type: pretrained}``: a Hugging Face BERT directory through keras-hub.

Runs on a tiny random checkpoint written by the test (same file and tensor names as a
real one), so nothing is downloaded: the encoder must reproduce a NumPy BERT forward
pass, a joint intent + slot model must learn through it, and the exported SavedModel
(WordPiece in the graph, core TF ops only) must give the in-process answers.
"""

import json
import random
import shutil

import numpy as np
import pytest
import yaml

pytest.importorskip("keras_hub", reason="keras-hub is not installed (pip install 'mtlflow[pretrained]')")
pytest.importorskip("safetensors", reason="safetensors is not installed (pip install 'mtlflow[pretrained]')")

from bert_fixture import numpy_bert, write_tiny_bert  # noqa: E402
from export_parity import assert_same_outputs, in_process_outputs, serve_in_fresh_process  # noqa: E402

from mtlflow.config import parse_config  # noqa: E402
from mtlflow.errors import ConfigError  # noqa: E402

CITIES = ["paris", "tokyo", "lima", "oslo", "cairo", "quito"]
SONGS = ["hello", "yesterday", "imagine", "thriller"]
WORDS = ["play", "the", "song", "weather", "in", "what", "is", "please", "now", "for", "me", ",", "'"] + CITIES + SONGS


def _example(rng: random.Random) -> dict:
    if rng.random() < 0.5:
        city = rng.choice(CITIES)
        words = rng.choice([["weather", "in", city], ["what", "is", "the", "weather", "in", city, "now"],
                            ["weather", "for", city, "please"]])
        tags = ["B-city" if w == city else "O" for w in words]
        return {"text": " ".join(words), "intent": "get_weather", "tags": tags}
    song = rng.choice(SONGS)
    words = rng.choice([["play", song], ["play", "the", "song", song, "for", "me"], ["please", "play", song, "now"]])
    tags = ["B-song" if w == song else "O" for w in words]
    return {"text": " ".join(words), "intent": "play_music", "tags": tags}


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("bert"), WORDS)


def _config(tmp_path, bert, **encoder) -> dict:
    rng = random.Random(0)
    for split, n in (("train", 400), ("dev", 80)):
        with open(tmp_path / f"{split}.jsonl", "w") as f:
            for _ in range(n):
                f.write(json.dumps(_example(rng)) + "\n")
    return {
        "data": {"train": "train.jsonl", "validation": "dev.jsonl", "test": "dev.jsonl"},
        "inputs": {"text": {"column": "text", "tokenizer": "whitespace"}},
        "encoder": {"type": "pretrained", "path": str(bert), **encoder},
        "tasks": [{"name": "intent", "type": "multiclass"},
                  {"name": "slots", "type": "tagging", "column": "tags", "scheme": "bio"}],
        "training": {"epochs": 4, "batch_size": 32, "learning_rate": 0.003, "early_stopping": None},
    }


def test_encoder_reproduces_the_checkpoint(tiny_bert):
    import tensorflow as tf

    from mtlflow.model.pretrained import PretrainedEncoder

    encoder = PretrainedEncoder(str(tiny_bert), pooling="mean")
    ids = np.array([[2, 6, 7, 8, 3, 0], [2, 9, 3, 0, 0, 0]], np.int32)
    starts = np.array([[1, 2, 3], [1, 0, 0]], np.int32)
    words, pooled = encoder(tf.constant(ids), tf.constant(starts), training=False)
    reference = numpy_bert(tiny_bert, ids)  # exact-erf GELU, LayerNorm eps 1e-12
    np.testing.assert_allclose(words.numpy()[0], reference[0, [1, 2, 3]], atol=1e-5)
    np.testing.assert_allclose(words.numpy()[1, 0], reference[1, 1], atol=1e-5)
    real = (ids != 0)[..., None]
    np.testing.assert_allclose(pooled.numpy(), (reference * real).sum(1) / real.sum(1), atol=1e-5)


def test_preprocessor_aligns_words_to_first_pieces(tiny_bert):
    import tensorflow as tf

    from mtlflow.data.vocabulary import Vocabularies
    from mtlflow.model.preprocessor import Preprocessor

    config = parse_config({**_config_stub(tiny_bert)})
    pre = Preprocessor(config.inputs, Vocabularies(), config.encoder)
    out = pre({"text": tf.constant(["Play songs", "weather, paris"])})
    vocab = (tiny_bert / "vocab.txt").read_text().split("\n")
    pieces = [[vocab[i] for i in row if i] for row in out["token_ids"].numpy()]
    assert pieces == [["[CLS]", "play", "song", "##s", "[SEP]"], ["[CLS]", "weather", ",", "paris", "[SEP]"]]
    # "weather," is one whitespace word (one slot label) of two pieces: it starts at 1
    assert out["word_starts"].numpy().tolist() == [[1, 2], [1, 3]]


def _config_stub(bert) -> dict:
    return {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}, "encoder": {"type": "pretrained", "path": str(bert)},
            "tasks": [{"name": "intent", "type": "multiclass"}]}


def test_config_errors_name_the_key(tmp_path, tiny_bert):
    with pytest.raises(ConfigError, match=r"encoder.path: encoder type 'pretrained' needs path"):
        parse_config({**_config_stub(tiny_bert), "encoder": {"type": "pretrained"}})
    with pytest.raises(ConfigError, match=r"encoder.path: only used by encoder type 'pretrained'"):
        parse_config({**_config_stub(tiny_bert), "encoder": {"type": "bilstm", "path": "x"}})
    with pytest.raises(ConfigError, match=r"encoder.pooling: a pretrained encoder pools by 'mean' or 'cls'"):
        parse_config({**_config_stub(tiny_bert), "encoder": {"type": "pretrained", "path": "x", "pooling": "max"}})
    from mtlflow.model.pretrained import read_checkpoint

    broken = tmp_path / "broken"
    shutil.copytree(tiny_bert, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"encoder.path: .*broken: missing model.safetensors"):
        read_checkpoint(broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(ConfigError, match=r"model_type 'gpt2' is not supported"):
        read_checkpoint(broken, need_weights=False)


def test_joint_model_learns_exports_and_reloads(tmp_path, tiny_bert):
    from mtlflow.run import load_run, train

    bert = tmp_path / "bert"
    shutil.copytree(tiny_bert, bert)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(_config(tmp_path, "bert")))
    run, metrics = train(tmp_path / "config.yaml", tmp_path / "run", verbose=False)
    assert metrics["intent"]["accuracy"] > 0.9, metrics  # chance: 0.5
    assert metrics["slots"]["f1"] > 0.8, metrics
    texts = ["weather in lima now", "please play imagine"]
    local = in_process_outputs(run, texts)
    assert [x.decode() for x in local["intent_label"]] == ["get_weather", "play_music"]

    served = serve_in_fresh_process(tmp_path / "run" / "export" / "1", texts, forbidden=("mtlflow", "keras_hub"))
    assert_same_outputs(served, local)

    shutil.rmtree(bert)  # the run directory is self-contained: weights from its checkpoint
    again = load_run(tmp_path / "run")
    reloaded = in_process_outputs(again, texts)
    np.testing.assert_allclose(reloaded["intent_probabilities"], local["intent_probabilities"], rtol=1e-5, atol=1e-6)
