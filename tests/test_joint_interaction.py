"""Joint intent/slot interaction modules (``encoder.interaction``).

* layer contracts: shapes, padded tokens change nothing, the vote is the majority vote;
* a tiny model with each module learns a toy task in which a slot's type depends on the
  intent (``zed`` is an ``artist`` when playing, a ``title`` when finding);
* the exported SavedModel (raw text in) gives the in-process outputs;
* config mistakes name their key.
"""

from __future__ import annotations

import json
import random

import keras
import numpy as np
import pytest
import yaml

from export_parity import assert_same_outputs, in_process_outputs, serve_in_fresh_process
from mtlflow.errors import ConfigError
from mtlflow.layers import CoInteractiveAttention, LabelAttention, SFIDNetwork, TokenIntentVoting


def _padded(states: np.ndarray, extra: int, fill: float) -> tuple[np.ndarray, np.ndarray]:
    """``states [b, t, d]`` with ``extra`` padded steps holding ``fill``, and the mask."""
    b, t, d = states.shape
    padded = np.concatenate([states, np.full((b, extra, d), fill, np.float32)], axis=1)
    mask = np.concatenate([np.ones((b, t), bool), np.zeros((b, extra), bool)], axis=1)
    return padded, mask


def test_token_intent_voting_shapes_padding_and_vote():
    keras.utils.set_random_seed(0)
    layer = TokenIntentVoting(3, units=8)
    states = np.random.default_rng(0).normal(size=(2, 4, 5)).astype(np.float32)
    utterance, tokens = layer(states, np.ones((2, 4), bool))
    assert tuple(utterance.shape) == (2, 3) and tuple(tokens.shape) == (2, 4, 3)
    np.testing.assert_allclose(np.sum(utterance, -1), 1.0, rtol=1e-5)

    padded, mask = _padded(states, 3, 7.0)  # padding with large values must change nothing
    utterance_padded, tokens_padded = layer(padded, mask)
    np.testing.assert_allclose(utterance_padded, utterance, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(tokens_padded)[:, :4], tokens, rtol=1e-5, atol=1e-6)
    assert np.all(np.asarray(tokens_padded)[:, 4:] == 0)

    token_p = np.asarray(tokens)  # inference: majority vote of the tokens' argmax, then the geometric mean
    votes = np.stack([np.bincount(row, minlength=3) for row in token_p.argmax(-1)])
    geometric = np.exp(np.log(token_p).mean(1))
    geometric /= geometric.sum(-1, keepdims=True)
    np.testing.assert_allclose(utterance, (votes + geometric) / 5.0, rtol=1e-5, atol=1e-6)
    trained, _ = layer(states, np.ones((2, 4), bool), training=True)
    np.testing.assert_allclose(trained, geometric, rtol=1e-5, atol=1e-6)
    empty, _ = layer(states, np.zeros((2, 4), bool))  # no real token: uniform
    np.testing.assert_allclose(empty, np.full((2, 3), 1 / 3), rtol=1e-5)


def test_label_co_interactive_and_sf_id_ignore_padding():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    intent, slots = (rng.normal(size=(2, 4, 6)).astype(np.float32) for _ in range(2))
    label = LabelAttention(5)
    assert tuple(label(intent).shape) == (2, 4, 6)
    layer = CoInteractiveAttention(ff_units=8, dropout=0.0)
    out_i, out_s = layer(intent, slots, np.ones((2, 4), bool))
    assert tuple(out_i.shape) == (2, 4, 6) and tuple(out_s.shape) == (2, 4, 6)
    (pad_i, mask), (pad_s, _) = _padded(intent, 2, 9.0), _padded(slots, 2, -9.0)
    padded_i, padded_s = layer(pad_i, pad_s, mask)
    np.testing.assert_allclose(np.asarray(padded_i)[:, :4], out_i, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(padded_s)[:, :4], out_s, rtol=1e-4, atol=1e-5)
    sf_id = SFIDNetwork(iterations=2)
    sf_intent, sf_slots = sf_id(intent, np.ones((2, 4), bool))
    assert tuple(sf_intent.shape) == (2, 6) and tuple(sf_slots.shape) == (2, 4, 6)
    padded_intent, padded_slots = sf_id(pad_i, mask)
    np.testing.assert_allclose(padded_intent, sf_intent, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(np.asarray(padded_slots)[:, :4], sf_slots, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="same width"):
        CoInteractiveAttention()(intent, slots[..., :3], np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"Argument `num_intents`.*Received: num_intents=0"):
        TokenIntentVoting(0)


FILLERS = ["the", "a", "some", "now", "please", "me", "to", "by", "new", "old"]


def toy_rows(n: int, seed: int) -> list[dict]:
    """``play``/``find`` decided by one keyword; ``zed`` is an artist when playing, a title when finding."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        intent = rng.choice(["play", "find"])
        words = [rng.choice(FILLERS) for _ in range(rng.randint(2, 5))]
        words.insert(rng.randint(0, len(words)), "song" if intent == "play" else "movie")
        words.insert(rng.randint(0, len(words)), "zed")
        slot = "artist" if intent == "play" else "title"
        rows.append({"text": " ".join(words), "intent": intent,
                     "tags": [f"B-{slot}" if w == "zed" else "O" for w in words]})
    return rows


CONFIG = """
data: {{format: jsonl, train: train.jsonl, validation: validation.jsonl, test: test.jsonl}}
inputs: {{text: {{tokenizer: whitespace, max_length: 12}}}}
encoder: {{type: bilstm, embedding_dim: 16, units: 16, dropout: 0.0,
          interaction: {{type: {kind}, units: 16, dropout: 0.0}}}}
tasks:
  - {{name: intent, type: multiclass}}
  - {{name: slots, type: tagging, column: tags, decoder: {decoder}}}
training: {{epochs: 10, batch_size: 32, learning_rate: 0.02, seed: 3, early_stopping: null, diagnostics_every: null}}
"""


@pytest.fixture(scope="module")
def toy_project(tmp_path_factory):
    root = tmp_path_factory.mktemp("interaction")
    for name, n, seed in (("train", 240, 1), ("validation", 40, 2), ("test", 100, 3)):
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in toy_rows(n, seed)), "utf-8")
    return root


@pytest.fixture(scope="module")
def runs(toy_project):
    """``{kind: (run, test metrics)}``, each trained on first use."""
    from mtlflow.run import train

    trained = {}

    def get(kind: str):
        if kind not in trained:
            decoder = "softmax" if kind == "stack_propagation" else "crf"
            (toy_project / f"{kind}.yaml").write_text(CONFIG.format(kind=kind, decoder=decoder), "utf-8")
            trained[kind] = train(toy_project / f"{kind}.yaml", toy_project / f"run-{kind}", verbose=False,
                                  export=False)
        return trained[kind]

    return get


def _learns(metrics: dict) -> None:
    assert metrics["intent"]["accuracy"] > 0.9, metrics["intent"]  # chance: 0.5
    assert metrics["slots"]["f1"] > 0.8, metrics["slots"]  # the right type needs the intent
    assert metrics["joint"]["accuracy"] > 0.75, metrics["joint"]


def test_stack_propagation_learns_intent_dependent_slots(runs):
    _learns(runs("stack_propagation")[1])


@pytest.mark.slow
def test_co_interactive_learns_intent_dependent_slots(runs):
    _learns(runs("co_interactive")[1])


@pytest.mark.slow
def test_sf_id_learns_intent_dependent_slots(runs):
    _learns(runs("sf_id")[1])


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["stack_propagation", "co_interactive", "sf_id"])
def test_export_answers_raw_text_like_the_model(runs, kind):
    from mtlflow.run import export_run

    run, _ = runs(kind)
    texts = ["play the song zed", "", "find zed movie please now"]
    served = serve_in_fresh_process(export_run(run, run.directory / "export"), texts)
    assert_same_outputs(served, in_process_outputs(run, texts))
    assert served["intent_label"][0] == "play" and served["intent_label"][2] == "find"
    assert [t for t in served["slots_tags"][0] if t] == ["O", "O", "O", "B-artist"]


def _config(interaction: str, tasks: list[str], sharing: str = "hard") -> dict:
    return yaml.safe_load(
        f"data: {{train: t.jsonl}}\ninputs: {{text: {{}}}}\nsharing: {{type: {sharing}}}\n"
        f"encoder: {{interaction: {interaction}}}\ntasks:\n" + "".join(f"  - {t}\n" for t in tasks))


@pytest.mark.parametrize("interaction, tasks, sharing, message", [
    ("{type: stack_propagation}", ["{name: intent, type: multiclass}", "{name: tags, type: tagging}"], "hard",
     r"encoder\.interaction\.slots: no task named 'slots' \(tasks: intent, tags\)"),
    ("{type: co_interactive, intent: slots, slots: intent}",
     ["{name: intent, type: multiclass}", "{name: slots, type: tagging}"], "hard",
     r"encoder\.interaction\.intent: task 'slots' is tagging; it must be a multiclass task"),
    ("{type: stack_propagation}", ["{name: intent, type: multiclass}", "{name: slots, type: tagging}"], "mmoe",
     r"encoder\.interaction: needs sharing\.type: hard"),
    ("{type: stack_propagation}",
     ["{name: intent, type: multiclass}", "{name: slots, type: tagging, condition_on: intent}"], "hard",
     r"remove tasks\.slots\.condition_on"),
])
def test_interaction_config_errors_name_the_key(interaction, tasks, sharing, message):
    from mtlflow.config import parse_config
    from mtlflow.data.vocabulary import Vocabularies
    from mtlflow.model.build import build_model
    from mtlflow.tasks import create_task

    config = parse_config(_config(interaction, tasks, sharing), "config.yaml")
    built = {s.name: create_task(s) for s in config.tasks}
    for task in built.values():
        task.labels = ["O", "B-x"] if task.type_name == "tagging" else ["a", "b"]
    with pytest.raises(ConfigError, match=message):
        build_model(config, Vocabularies(tokens=["", "[UNK]", "a"]), built)


def test_unknown_interaction_type_names_the_key():
    from mtlflow.config import parse_config

    with pytest.raises(ConfigError, match=r"encoder\.interaction\.type"):
        parse_config(_config("{type: sf_idd}", ["{name: intent, type: multiclass}"]), "config.yaml")

