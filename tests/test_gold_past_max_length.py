"""Slot F1 scores the whole sentence, as published evaluations do, even past ``max_length``.

The model sees the first ``max_length = 2`` tokens; its predictions are fixed here:

    row  gold tags            predicted (2 tokens)  gold spans         scored
    0    B-x I-x O B-x        B-x I-x               (0,2) (3,4)        (3,4) missed
    1    B-x O                B-x O                 (0,1)              right
    2    B-x I-x I-x          B-x I-x               (0,3)              predicted (0,2) is wrong

4 gold spans, 3 predicted, 2 right: P = 2/3, R = 1/2, F1 = 4/7; joint accuracy 1/3 (row 1).
Scoring the gold cut at the model's length (as before) gave F1 = 1 and joint accuracy 1.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.config import parse_config
from mtlflow.data.dataset import SplitData
from mtlflow.data.encode import encode_table, fit_tasks
from mtlflow.data.readers import read_table
from mtlflow.evaluate.evaluator import Evaluator
from mtlflow.evaluate.report import metrics_markdown
from mtlflow.run import _issue_lines
from mtlflow.tasks import create_task

TRAIN = [
    {"text": "a b", "intent": "A", "tags": ["B-x", "I-x"]},
    {"text": "a b", "intent": "B", "tags": ["O", "O"]},
]
TEST = [
    {"text": "a b c d", "intent": "A", "tags": ["B-x", "I-x", "O", "B-x"]},
    {"text": "a b", "intent": "B", "tags": ["B-x", "O"]},
    {"text": "a b c", "intent": "A", "tags": ["B-x", "I-x", "I-x"]},
]
PREDICTED_TAGS = [["B-x", "I-x"], ["B-x", "O"], ["B-x", "I-x"]]


class FixedPredictions:
    """Stands in for the preprocessor: the model inputs *are* the predictions."""

    def __init__(self, tasks):
        self.tasks = tasks

    def transform(self, features):
        intent, slots = self.tasks["intent"], self.tasks["slots"]
        intent_probs = np.eye(len(intent.labels), dtype=np.float32)[[intent.labels.index(r["intent"]) for r in TEST]]
        tag_ids = [[slots.labels.index(t) for t in row] for row in PREDICTED_TAGS]
        slot_probs = np.eye(len(slots.labels), dtype=np.float32)[tag_ids] * 0.9 + 0.1 / len(slots.labels)
        return {"intent": tf.constant(intent_probs), "slots": tf.constant(slot_probs)}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("long")
    config = parse_config({
        "data": {"train": "x"},
        "inputs": {"text": {"tokenizer": "whitespace", "max_length": 2}},
        "tasks": [{"name": "intent", "type": "multiclass"},
                  {"name": "slots", "type": "tagging", "column": "tags", "constrained": False}],
    })
    tasks = {s.name: create_task(s) for s in config.tasks}
    for name, rows in (("train", TRAIN), ("test", TEST)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    fit_tasks(read_table(tmp_path / "train.jsonl"), config, tasks)
    split = encode_table(read_table(tmp_path / "test.jsonl"), config, tasks, "test")
    data = SplitData(split, FixedPredictions(tasks), tasks)
    model = lambda inputs, training=False: {"intent": inputs["intent"], "slots": inputs["slots"]}  # noqa: E731
    metrics = Evaluator(model, tasks, {"intent": 1.0, "slots": 1.0}).evaluate(data.batches(2), data.unseen)
    return split, metrics


def test_the_model_trains_on_the_cut_but_is_scored_on_the_whole_sentence(evaluated):
    split, metrics = evaluated
    assert [len(tags) for tags in split.labels["slots"]] == [2, 2, 2]
    assert metrics["slots"]["precision"] == pytest.approx(2 / 3)
    assert metrics["slots"]["recall"] == pytest.approx(1 / 2)
    assert metrics["slots"]["f1"] == pytest.approx(4 / 7)
    assert metrics["intent"]["accuracy"] == pytest.approx(1.0)
    assert metrics["joint"]["accuracy"] == pytest.approx(1 / 3)


def test_cut_sentences_are_reported_and_logged(evaluated):
    split, metrics = evaluated
    assert metrics["slots"]["past_max_length"] == {"split": "test", "rows": 2, "tokens": 3, "spans": 2, "max_length": 2}
    assert "past_max_length" not in metrics["intent"]
    line = next(line for line in _issue_lines(split) if "max_length" in line)
    assert "2 'slots' sentences are longer than inputs.text.max_length = 2 tokens (up to 4)" in line
    assert "raise inputs.text.max_length to 4" in line
    assert "| test | slots | 2 | 2 | 3 | 2 |" in metrics_markdown(metrics)


def test_a_cut_row_keeps_its_whole_gold_in_a_slice(evaluated):
    split, _ = evaluated
    sliced = split.unseen.subset(np.array([2, 1]))
    assert sliced.past_max_length == {"slots": {0: ["B-x", "I-x", "I-x"]}}
    assert sliced.max_length == 2


def test_mean_score_is_the_mean_of_each_tasks_headline(evaluated):
    _, metrics = evaluated
    assert metrics["joint"]["mean_score"] == pytest.approx((1.0 + 4 / 7) / 2)
