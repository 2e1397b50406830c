"""Character-CNN word features and tagging conditioned on a sentence-level task.

* the layer's vector for a word does not depend on the batch's padding;
* the preprocessor's ``char_ids`` round-trip to the words' characters, and the data
  pipeline pads them to ``[batch, words, chars]`` (padded and bucketed batches);
* slot values that never occur in training, marked only by their spelling, are found
  with ``encoder.char_cnn`` and not without it;
* the exported SavedModel (char ids and ``condition_on`` inside) gives the in-process outputs;
* ``condition_on`` / ``char_cnn`` config mistakes name their key.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

from export_parity import assert_same_outputs, in_process_outputs, serve_in_fresh_process
from mtlflow.config import parse_config
from mtlflow.data.vocabulary import Vocabularies, fit_vocabularies
from mtlflow.errors import ConfigError
from mtlflow.model.char_cnn import CharCNN

LETTERS = "abcdefghijklmnop"  # the marker suffix "zq" uses letters no other word has


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 6)))


def marked_rows(n: int, seed: int, fillers: list[str]) -> list[dict]:
    """Sentences of filler words and 0–2 *new* words ending in ``zq``, tagged ``B-thing``.

    Every sentence also has two distractor words never seen before (no suffix), so in a
    test sentence both kinds of word are unknown to a word-level vocabulary and the
    positions are random: only the spelling tells them apart. ``kind``: ``find`` or
    ``play``, the sentence's first word.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        kind = rng.choice(["find", "play"])
        words = [rng.choice(fillers) for _ in range(rng.randint(1, 4))]
        new = [_word(rng) + "zq" for _ in range(rng.randint(0, 2))] + [_word(rng), _word(rng)]
        for word in new:
            words.insert(rng.randint(0, len(words)), word)
        words = [kind, *words]
        rows.append({"text": " ".join(words), "kind": kind,
                     "tags": ["B-thing" if w.endswith("zq") else "O" for w in words]})
    return rows


CONFIG = """
data: {{format: jsonl, train: train.jsonl, validation: validation.jsonl, test: test.jsonl, bucket_boundaries: [6, 8]}}
inputs: {{text: {{tokenizer: whitespace, max_length: 16}}}}
encoder: {{type: bilstm, embedding_dim: 16, units: 16, dropout: 0.0{char_cnn}}}
tasks:
  - {{name: kind, type: multiclass}}
  - {{name: tags, type: tagging, condition_on: kind}}
training: {{epochs: 6, batch_size: 32, learning_rate: 0.02, seed: 3, early_stopping: null, diagnostics_every: null}}
"""


def write_project(directory: Path, char_cnn: bool) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    fillers = [_word(random.Random(i)) for i in range(30)]
    for name, n, seed in (("train", 300, 1), ("validation", 60, 2), ("test", 200, 3)):
        rows = marked_rows(n, seed, fillers)
        (directory / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    extra = ", char_cnn: {dim: 8, filters: 24, widths: [2, 3], max_chars: 12}" if char_cnn else ""
    (directory / "config.yaml").write_text(CONFIG.format(char_cnn=extra), "utf-8")
    return directory / "config.yaml"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``{char_cnn: (run, test metrics)}`` for the same data with and without characters."""
    from mtlflow.run import train

    root = tmp_path_factory.mktemp("char_cnn")
    out = {}
    for char_cnn in (True, False):
        config = write_project(root / f"project-{char_cnn}", char_cnn)
        out[char_cnn] = train(config, root / f"run-{char_cnn}", verbose=False, export=char_cnn)
    return out


def test_word_vector_does_not_depend_on_padding():
    layer = CharCNN(vocab_size=20, dim=4, filters=6, widths=[2, 3])
    word = [5, 6, 7]
    alone = np.array([[word]], np.int32)                           # [1, 1, 3]
    padded = np.zeros((2, 4, 9), np.int32)                          # longer words and sentences
    padded[1, 2, :3] = word
    padded[0, 0, :9] = np.arange(2, 11)
    padded[1, 0, :5] = [3, 4, 5, 6, 7]
    a = np.asarray(layer(alone))[0, 0]
    b = np.asarray(layer(padded))
    np.testing.assert_allclose(b[1, 2], a, rtol=1e-5, atol=1e-6)
    assert np.abs(a).max() > 0
    np.testing.assert_array_equal(b[1, 3], 0.0)                     # a padding word is 0
    np.testing.assert_array_equal(b[0, 1], 0.0)
    assert layer(padded).shape == (2, 4, 12)


def test_char_ids_round_trip_and_pad_in_batches():
    from mtlflow.config import EncoderConfig, InputsConfig
    from mtlflow.data.dataset import SplitData
    from mtlflow.data.encode import EncodedSplit
    from mtlflow.model.preprocessor import Preprocessor

    inputs = InputsConfig.model_validate({"text": {"tokenizer": "whitespace", "lowercase": True}})
    encoder = EncoderConfig.model_validate({"char_cnn": {"max_chars": 5}})
    train_texts = np.array(["Café au lait", "abc de", "naïve x"], dtype=object)
    vocab = fit_vocabularies({"text": train_texts}, inputs)
    assert vocab.chars[:2] == ["", "[UNK]"] and "é" in vocab.chars and "ï" in vocab.chars
    pre = Preprocessor(inputs, vocab, encoder)
    texts = ["café extraordinary", "", "x zz ïa au lait ab"]
    ids = pre({"text": tf.constant(texts)})["char_ids"].numpy()
    assert ids.shape == (3, 6, 5)
    for i, text in enumerate(texts):
        words = text.lower().split()
        for j in range(ids.shape[1]):
            row = [c for c in ids[i, j] if c]                       # ids 0 only pad
            expected = list(words[j])[:5] if j < len(words) else []
            assert [vocab.chars[c] if c > 1 else "?" for c in row] == \
                   [c if c in vocab.chars else "?" for c in expected], (text, j)
    assert ids[2, 1, 0] == 1                                        # "z" was never seen: unseen id

    # through the data pipeline: every batch holds each example's ids, padded with 0
    all_texts = np.array([f"{'w' * (1 + i % 7)} " * (1 + i % 5) for i in range(40)], dtype=object)
    split = EncodedSplit(name="t", features={"text": all_texts}, labels={}, masks={}, locations=[], issues={})
    data = SplitData(split, pre, {})
    single = {i: pre({"text": tf.constant([all_texts[i]])})["char_ids"].numpy()[0] for i in range(40)}
    for buckets in (None, [3, 5]):
        seen = 0
        for inputs_batch, _, _ in data.batches(8, bucket_boundaries=buckets):
            chars, tokens = inputs_batch["char_ids"].numpy(), inputs_batch["token_ids"].numpy()
            assert chars.ndim == 3 and chars.shape[:2] == tokens.shape
            for row_chars, row_tokens in zip(chars, tokens):
                n = int((row_tokens > 0).sum())
                match = [i for i, s in single.items() if s.shape[0] == n and s.shape[1] <= chars.shape[2]
                         and np.array_equal(np.pad(s, [(0, chars.shape[1] - n), (0, chars.shape[2] - s.shape[1])]),
                                            row_chars)]
                assert match, "a padded row is not any example's char ids"
                seen += 1
        assert seen == 40


def test_unseen_words_are_tagged_from_their_spelling(runs):
    with_chars, without = runs[True][1]["tags"]["f1"], runs[False][1]["tags"]["f1"]
    assert with_chars > 0.9, with_chars
    assert with_chars > without + 0.25, (with_chars, without)
    assert runs[True][1]["kind"]["accuracy"] > 0.95


def test_export_matches_in_process_outputs(runs):
    run, _ = runs[True]
    texts = ["play abcdzq hello", "", "find mnopqrstzq ponm aazq"]
    served = serve_in_fresh_process(run.directory / "export" / "1", texts)
    assert_same_outputs(served, in_process_outputs(run, texts))
    assert [t for t in served["tags_tags"][0] if t] == ["O", "B-thing", "O"]


def test_old_vocabulary_files_load_without_chars(tmp_path):
    path = tmp_path / "vocab.json"
    path.write_text(json.dumps({"tokens": ["", "[UNK]", "a"], "categorical": {}, "numeric_mean": {},
                                "numeric_std": {}}), "utf-8")
    assert Vocabularies.load(path).chars == []


def _config(tasks: list[str], encoder: str = "{type: bilstm}") -> dict:
    return yaml.safe_load(f"data: {{train: t.jsonl}}\ninputs: {{text: {{}}}}\nencoder: {encoder}\n"
                          "tasks:\n" + "".join(f"  - {t}\n" for t in tasks))


@pytest.mark.parametrize("tasks, message", [
    (["{name: intent, type: multiclass}", "{name: slots, type: tagging, condition_on: intnt}"],
     r"tasks\[1\]\.condition_on: 'intnt' is not another task; tasks: intent"),
    (["{name: slots, type: tagging, condition_on: slots}", "{name: intent, type: multiclass}"],
     r"tasks\[0\]\.condition_on: 'slots' is not another task"),
    (["{name: flag, type: binary}", "{name: intent, type: multiclass}",
      "{name: slots, type: tagging, condition_on: flag}"],
     r"tasks\[2\]\.condition_on: task 'flag' is binary; .*multiclass tasks: intent"),
])
def test_condition_on_errors_name_the_key(tasks, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(_config(tasks), "config.yaml")


def test_char_cnn_errors_name_the_key():
    tasks = ["{name: intent, type: multiclass}"]
    with pytest.raises(ConfigError, match=r"encoder\.char_cnn: a pretrained encoder reads WordPiece pieces"):
        parse_config(_config(tasks, "{type: pretrained, path: bert, char_cnn: {}}"), "config.yaml")
    with pytest.raises(ConfigError, match=r"encoder\.char_cnn\.widths\[0\]"):
        parse_config(_config(tasks, "{char_cnn: {widths: [0]}}"), "config.yaml")
    with pytest.raises(ConfigError, match=r"encoder\.char_cnn\.width: unknown key; allowed keys here: dim, filters"):
        parse_config(_config(tasks, "{char_cnn: {width: 3}}"), "config.yaml")
