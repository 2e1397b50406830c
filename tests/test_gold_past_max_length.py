"""Slot F1 scores the whole sentence, as published evaluations do, even past ``max_length``.

The model sees the first ``max_length = 2`` tokens; its predictions are fixed here:

    row  gold tags            predicted (2 tokens)  gold spans         scored
    0    B-x I-x O B-x        B-x I-x               (0,2) (3,4)        (3,4) missed
    1    B-x O                B-x O                 (0,1)              right
    2    B-x I-x I-x          B-x I-x               (0,3)              predicted (0,2) is wrong

4 gold spans, 3 predicted, 2 right: P = 2/3, R = 1/2, F1 = 4/7; joint accuracy 1/3 (row 1).
Scoring the gold cut at the model's length (as before) gave F1 = 1 and joint accuracy 1.
"""

import numpy as np
import pytest

from fixed_predictions import evaluate_fixed
from mtlflow.evaluate.report import metrics_markdown
from mtlflow.run import _issue_lines

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


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    return evaluate_fixed(tmp_path_factory.mktemp("long"), TRAIN, TEST, [r["intent"] for r in TEST], PREDICTED_TAGS,
                          text={"max_length": 2})


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
