"""Gold labels unseen in training are scored as errors by default, as published evaluations do.

A hand-checkable case: four test sentences, fixed predictions (the "model" returns them).

    row  gold intent  gold tags        predicted intent  predicted tags
    0    A            B-x I-x          A                 B-x I-x     all right
    1    C (unseen)   B-x O            A                 B-x O       intent wrong
    2    B            B-y O B-x        B                 O O B-x     B-y unseen: span (y,0,1) missed
    3    A            O O              B                 O O         intent wrong

count_as_errors: intent accuracy 2/4; slots: 4 gold spans, 3 predicted, 3 right, so
P = 1, R = 3/4, F1 = 6/7; joint accuracy 1/4 (only row 0).
exclude: intent over rows 0, 2, 3 = 2/3; slots over rows 0, 1, 3 = F1 1; joint over rows
0 and 3 = 1/2. (Before, row 1 and row 2 counted as right in the joint accuracy: 3/4.)
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
    {"text": "a b", "intent": "A", "tags": ["B-x", "I-x"]},
    {"text": "a b", "intent": "C", "tags": ["B-x", "O"]},
    {"text": "a b c", "intent": "B", "tags": ["B-y", "O", "B-x"]},
    {"text": "a b", "intent": "A", "tags": ["O", "O"]},
]
PREDICTED_INTENT = ["A", "A", "B", "B"]
PREDICTED_TAGS = [["B-x", "I-x", "O"], ["B-x", "O", "O"], ["O", "O", "B-x"], ["O", "O", "O"]]


class FixedPredictions:
    """Stands in for the preprocessor: the model inputs *are* the predictions."""

    def __init__(self, tasks):
        self.tasks = tasks

    def transform(self, features):
        intent, slots = self.tasks["intent"], self.tasks["slots"]
        intent_probs = np.eye(len(intent.labels), dtype=np.float32)[[intent.labels.index(p) for p in PREDICTED_INTENT]]
        tag_ids = [[slots.labels.index(t) for t in row] for row in PREDICTED_TAGS]
        slot_probs = np.eye(len(slots.labels), dtype=np.float32)[tag_ids] * 0.9 + 0.1 / len(slots.labels)
        token_ids = np.array([[1, 1, 0], [1, 1, 0], [1, 1, 1], [1, 1, 0]], np.int32)
        return {"token_ids": tf.constant(token_ids), "intent": tf.constant(intent_probs),
                "slots": tf.constant(slot_probs)}


def _evaluate(tmp_path, policy):
    config = parse_config({
        "data": {"train": "x", "on_bad_label": "mask", "unseen_labels": policy},
        "inputs": {"text": {"tokenizer": "whitespace"}},
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


def test_unseen_gold_labels_count_as_errors_by_default(tmp_path):
    split, metrics = _evaluate(tmp_path, "count_as_errors")
    assert metrics["intent"]["accuracy"] == pytest.approx(2 / 4)
    assert metrics["intent"]["count"] == 4
    assert metrics["slots"]["precision"] == pytest.approx(1.0)
    assert metrics["slots"]["recall"] == pytest.approx(3 / 4)
    assert metrics["slots"]["f1"] == pytest.approx(6 / 7)
    assert metrics["joint"]["accuracy"] == pytest.approx(1 / 4)
    assert metrics["joint"]["count"] == 4
    assert metrics["intent"]["unseen_labels"] == {"split": "test", "rows": 1, "labels": {"C": 1}, "scored": "as errors"}
    assert metrics["slots"]["unseen_labels"] == {"split": "test", "rows": 1, "labels": {"B-y": 1}, "scored": "as errors"}
    lines = _issue_lines(split)  # once per split and task, naming the labels
    assert any("'intent' labels unseen in training (C ×1)" in line and "scored as errors" in line for line in lines)
    assert any("'slots' labels unseen in training (B-y ×1)" in line for line in lines)
    assert not any("bad" in line for line in lines)
    table = metrics_markdown(metrics)
    assert "### Gold labels unseen in training" in table and "| test | slots | as errors | B-y ×1 | 1 |" in table


def test_unseen_gold_labels_excluded_on_request(tmp_path):
    _, metrics = _evaluate(tmp_path, "exclude")
    assert metrics["intent"]["accuracy"] == pytest.approx(2 / 3)
    assert metrics["slots"]["f1"] == pytest.approx(1.0)
    assert metrics["joint"]["accuracy"] == pytest.approx(1 / 2)
    assert metrics["joint"]["count"] == 2
    assert metrics["intent"]["unseen_labels"]["scored"] == "excluded"
