"""``training.layer_decay``: each depth of a pretrained encoder learns at η·d^(L+1−k).

Adam's first step moves every parameter with a non-zero gradient by about its learning rate
(``m̂ / √v̂ = ±1``), so the largest move in each depth's variables is that depth's rate: a
closed form, on a tiny random BERT checkpoint written by the test.
"""

import json
import random

import numpy as np
import pytest

pytest.importorskip("keras_hub", reason="keras-hub is not installed (pip install 'mtlflow[pretrained]')")
pytest.importorskip("safetensors", reason="safetensors is not installed (pip install 'mtlflow[pretrained]')")

from bert_fixture import write_tiny_bert  # noqa: E402

from mtlflow.config import parse_config  # noqa: E402
from mtlflow.errors import ConfigError  # noqa: E402

WORDS = ["play", "the", "song", "weather", "in", "lima", "oslo", "hello", "imagine"]
RATE, DECAY, BLOCKS = 0.01, 0.5, 2


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    return write_tiny_bert(tmp_path_factory.mktemp("bert"), WORDS, layers=BLOCKS)


def _trainer_after_one_step(tmp_path, bert, **training):
    """The trainer and each group's variables before and after one Adam step (batch 32)."""
    from mtlflow.data.dataset import SplitData
    from mtlflow.data.encode import encode_table, fit_tasks
    from mtlflow.data.readers import read_table
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.run import absolute_config
    from mtlflow.tasks import create_task
    from mtlflow.train.trainer import Trainer

    rng = random.Random(0)
    with open(tmp_path / "train.jsonl", "w") as f:
        for _ in range(64):
            city, song = rng.choice(["lima", "oslo"]), rng.choice(["hello", "imagine"])
            weather = rng.random() < 0.5
            words = ["weather", "in", city] if weather else ["play", "the", "song", song]
            f.write(json.dumps({"text": " ".join(words), "intent": "weather" if weather else "music",
                                "tags": ["B-x" if w in (city, song) else "O" for w in words]}) + "\n")
    config = {
        "data": {"train": "train.jsonl"},
        "inputs": {"text": {"column": "text", "tokenizer": "whitespace"}},
        "encoder": {"type": "pretrained", "path": str(bert)},
        "tasks": [{"name": "intent", "type": "multiclass"},
                  {"name": "slots", "type": "tagging", "column": "tags", "scheme": "bio"}],
        "training": {"learning_rate": RATE, "clip_norm": None, "diagnostics_every": None, "early_stopping": None,
                     **training},
    }
    config = absolute_config(parse_config(config), tmp_path)
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(config.data.train)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    vocab = fit_vocabularies(split.features, config.inputs, config.encoder)
    trainer = Trainer(build_model(config, vocab, tasks), tasks, config.training)
    groups = trainer.optimizers.groups
    before = {name: [v.numpy().copy() for v in vs] for name, vs in groups.items()}
    data = SplitData(split, Preprocessor(config.inputs, vocab, config.encoder), tasks)
    trainer.train_function(iter(data.batches(32, shuffle_seed=0)))
    after = {name: [v.numpy().copy() for v in vs] for name, vs in groups.items()}
    return trainer, before, after


def _largest_change(before, after):
    return max(float(np.abs(a - b).max()) for a, b in zip(before, after))


def test_each_depth_moves_at_its_decayed_rate(tmp_path, tiny_bert):
    trainer, before, after = _trainer_after_one_step(tmp_path, tiny_bert, layer_decay=DECAY)
    depths = {name for name in before if name.startswith("shared.depth")}
    assert depths == {f"shared.depth{k}" for k in range(BLOCKS + 1)}  # the embeddings and each block
    for k in range(BLOCKS + 1):
        expected = RATE * DECAY ** (BLOCKS + 1 - k)  # embeddings η·d³, block 0 η·d², block 1 η·d
        change = _largest_change(before[f"shared.depth{k}"], after[f"shared.depth{k}"])
        assert change == pytest.approx(expected, rel=0.02), (k, change, expected)
    for task in ("intent", "slots"):  # the heads learn at the full rate
        assert _largest_change(before[task], after[task]) == pytest.approx(RATE, rel=0.02)


def test_a_frozen_trunk_freezes_every_depth(tmp_path, tiny_bert):
    _, before, after = _trainer_after_one_step(
        tmp_path, tiny_bert, layer_decay=DECAY, stages=[{"epochs": 1, "freeze": ["shared"]}, {}])
    for name in before:
        if name.startswith("shared"):
            assert _largest_change(before[name], after[name]) == 0.0, name
        else:
            assert _largest_change(before[name], after[name]) == pytest.approx(RATE, rel=0.02), name


def test_layer_decay_needs_a_pretrained_encoder():
    config = {"data": {"train": "x.jsonl"}, "inputs": {"text": {}}, "encoder": {"type": "bilstm"},
              "tasks": [{"name": "intent", "type": "multiclass"}], "training": {"layer_decay": 0.8}}
    with pytest.raises(ConfigError, match=r"training.layer_decay: .*encoder type is 'bilstm'"):
        parse_config(config)
    config["training"]["layer_decay"] = 1.5
    with pytest.raises(ConfigError, match=r"training.layer_decay"):
        parse_config(config)
