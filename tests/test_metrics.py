import json
import math

import numpy as np
import pytest

from mtlflow.evaluate.metrics import (
    accuracy,
    exact_match_ratio,
    log_loss,
    macro_f1,
    mae,
    multilabel_f1,
    rmse,
    roc_auc,
    span_prf,
)


def test_accuracy():
    assert accuracy([1, 2, 3, 4], [1, 2, 0, 4]) == 0.75
    assert accuracy(np.array(["a", "b"]), ["a", "a"]) == 0.5
    assert type(accuracy([1], [1])) is float
    assert math.isnan(accuracy([], []))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        accuracy([1, 2], [1])


def test_macro_f1_class_missing_from_predictions():
    # class 0: F1 = 1; class 1: TP=1, FP=1 -> 2/3; class 2 never predicted: F1 = 0
    y_true, y_pred = [0, 0, 1, 2], [0, 0, 1, 1]
    assert macro_f1(y_true, y_pred) == pytest.approx(5 / 9)
    # label 3 has no support and no prediction: skipped, not counted as 0
    assert macro_f1(y_true, y_pred, labels=[0, 1, 2, 3]) == pytest.approx(5 / 9)
    assert macro_f1(y_true, y_pred, labels=[0, 1]) == pytest.approx(5 / 6)
    assert macro_f1(["a", "b"], ["a", "b"]) == 1.0
    assert math.isnan(macro_f1([], []))
    assert math.isnan(macro_f1([0], [0], labels=[5]))


def test_multilabel_micro_and_macro_differ():
    y_true = [[1, 1, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]]
    y_pred = [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]]
    # micro: TP=4, FP=0, FN=1 -> 8/9; macro: label0 F1=1, label1 F1=0, label2 skipped -> 0.5
    result = multilabel_f1(y_true, y_pred)
    assert result["micro_f1"] == pytest.approx(8 / 9)
    assert result["macro_f1"] == pytest.approx(0.5)
    assert all(type(v) is float for v in result.values())
    assert exact_match_ratio(y_true, y_pred) == 0.75


def test_multilabel_no_positives_and_bad_values():
    result = multilabel_f1([[0, 0]], [[0, 0]])
    assert math.isnan(result["micro_f1"]) and math.isnan(result["macro_f1"])
    assert math.isnan(multilabel_f1(np.zeros((0, 3)), np.zeros((0, 3)))["micro_f1"])
    assert math.isnan(exact_match_ratio(np.zeros((0, 3)), np.zeros((0, 3))))
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_f1([[0.3, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="2-D"):
        multilabel_f1([1, 0], [1, 0])


def test_roc_auc_without_and_with_ties():
    assert roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    # ranks: 0.2 -> 1, 0.5 -> 2.5 (twice), 0.9 -> 4; R+ = 6.5; (6.5 - 3) / 4
    assert roc_auc([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9]) == pytest.approx(0.875)
    assert roc_auc([0, 1, 0, 1], [0.3, 0.3, 0.3, 0.3]) == pytest.approx(0.5)
    assert roc_auc(np.array([True, False]), [0.1, 0.9]) == 0.0


def test_roc_auc_single_class_is_nan():
    assert math.isnan(roc_auc([1, 1, 1], [0.1, 0.2, 0.3]))
    assert math.isnan(roc_auc([], []))
    with pytest.raises(ValueError, match="finite"):
        roc_auc([0, 1], [0.1, float("nan")])


def test_log_loss():
    assert log_loss([1, 0], [0.8, 0.4]) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)
    assert log_loss([1], [0.0]) == pytest.approx(-math.log(1e-7))
    assert math.isnan(log_loss([], []))


def test_rmse_mae():
    assert rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert math.isnan(rmse([], [])) and math.isnan(mae([], []))


def test_span_prf_micro_over_chunks():
    true = [["B-date", "I-date", "O", "B-loc"], ["O", "B-per"]]
    pred = [["B-date", "I-date", "O", "B-loc"], ["B-per", "I-per"]]  # per boundary wrong
    result = span_prf(true, pred)
    assert result["precision"] == pytest.approx(2 / 3)
    assert result["recall"] == pytest.approx(2 / 3)
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["exact_match"] == 0.5
    assert result["per_type"] == {
        "date": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "loc": {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1},
        "per": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
    }
    json.dumps(result, allow_nan=False)


def test_span_prf_precision_differs_from_recall():
    result = span_prf([["B-x", "O", "O"]], [["B-x", "O", "B-y"]])
    assert result["precision"] == 0.5
    assert result["recall"] == 1.0
    assert result["f1"] == pytest.approx(2 / 3)
    assert result["per_type"]["y"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}


def test_span_prf_type_must_match_and_lenient_decoding():
    assert span_prf([["B-loc"]], [["B-per"]])["f1"] == 0.0
    assert span_prf([["B-x", "I-x"]], [["I-x", "I-x"]])["f1"] == 1.0
    bioes = span_prf([["B-x", "E-x", "S-y"]], [["B-x", "E-x", "S-y"]], scheme="bioes")
    assert bioes["f1"] == 1.0


def test_span_prf_empty_cases():
    no_pred = span_prf([["B-x", "O"]], [["O", "O"]])
    assert (no_pred["precision"], no_pred["recall"], no_pred["f1"], no_pred["exact_match"]) == (0.0, 0.0, 0.0, 0.0)
    nothing = span_prf([["O"], []], [["O"], []])
    # no gold and no predicted span: undefined (conlleval 0, seqeval "ill-defined"), never a perfect 1.0
    assert all(math.isnan(nothing[k]) for k in ("precision", "recall", "f1"))
    assert nothing["exact_match"] == 1.0 and nothing["per_type"] == {}
    empty = span_prf([], [])
    assert all(math.isnan(empty[k]) for k in ("precision", "recall", "f1", "exact_match"))


def test_a_slice_without_spans_does_not_score_a_perfect_f1():
    from mtlflow.pipeline.slices import slice_metrics, slices_markdown

    true = [["B-x", "I-x", "O"], ["O", "O", "O"], ["O", "O", "O"], ["B-x", "O", "O"]]
    pred = [["B-x", "I-x", "O"], ["O", "O", "O"], ["O", "O", "O"], ["O", "O", "O"]]
    slices = slice_metrics(["web", "app", "app", "web"],
                           lambda index: {"slots": span_prf([true[i] for i in index], [pred[i] for i in index])},
                           min_examples=1)
    assert slices["web"]["slots"]["f1"] == pytest.approx(2 / 3)
    assert math.isnan(slices["app"]["slots"]["f1"])  # was 1.0, above the slice that does have spans
    table = slices_markdown({"source": slices}, min_examples=1)
    assert "| app | 2 | n/a |" in table and "1.0000" not in table


def test_span_prf_length_mismatch():
    with pytest.raises(ValueError, match="sentence 0"):
        span_prf([["O", "O"]], [["O"]])
    with pytest.raises(ValueError, match="1 true tag sequences but 2"):
        span_prf([["O"]], [["O"], ["O"]])
