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

import pytest

from fixed_predictions import evaluate_fixed
from mtlflow.evaluate.report import metrics_markdown
from mtlflow.run import _issue_lines

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


def _evaluate(tmp_path, policy):
    return evaluate_fixed(tmp_path, TRAIN, TEST, PREDICTED_INTENT, PREDICTED_TAGS,
                          data={"on_bad_label": "mask", "unseen_labels": policy})


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
