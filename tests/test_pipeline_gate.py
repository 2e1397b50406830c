"""The pipeline's pure logic: the blessing (thresholds, regressions, new tasks), threshold
keys, slices and fingerprints. No TensorFlow, no training."""

import subprocess
import sys

import numpy as np
import pytest

from mtlflow.errors import ConfigError
from mtlflow.pipeline.fingerprint import hash_json, hash_path
from mtlflow.pipeline.gate import bless, check_thresholds
from mtlflow.pipeline.slices import MISSING, slice_key, slice_metrics

REPORTED = {"intent": ("accuracy", "macro_f1", "loss"), "price": ("rmse", "mae", "loss"),
            "click": ("auc", "log_loss", "accuracy", "loss")}


def metrics(**tasks):
    """``metrics(intent={"accuracy": .9}, joint={"accuracy": .8})`` with a count per task."""
    return {task: {**values, "count": 100} for task, values in tasks.items()}


def failing(blessing):
    return sorted(c.metric for c in blessing.failures)


# ---- thresholds ----------------------------------------------------------------------


def test_threshold_is_a_minimum_for_higher_is_better_metrics():
    new = metrics(intent={"accuracy": 0.85, "macro_f1": 0.95}, joint={"accuracy": 0.7})
    blessing = bless(new, thresholds={"intent.accuracy": 0.9, "intent.macro_f1": 0.9, "joint.accuracy": 0.7})
    assert not blessing.blessed
    assert failing(blessing) == ["intent.accuracy"]  # 0.95 >= 0.9 and 0.7 >= 0.7 pass
    (fail,) = [r for r in blessing.reasons if r.startswith("fail:")]
    assert "intent.accuracy = 0.8500 < minimum 0.9" in fail
    assert bless(new, thresholds={"intent.accuracy": 0.85}).blessed  # the bar itself passes


@pytest.mark.parametrize("metric", ["rmse", "mae", "loss", "log_loss"])
def test_threshold_is_a_maximum_for_lower_is_better_metrics(metric):
    task = "click" if metric == "log_loss" else "price"
    assert bless(metrics(**{task: {metric: 0.4}}), thresholds={f"{task}.{metric}": 0.5}).blessed
    blessing = bless(metrics(**{task: {metric: 0.6}}), thresholds={f"{task}.{metric}": 0.5})
    assert not blessing.blessed and failing(blessing) == [f"{task}.{metric}"]
    assert "> maximum 0.5" in blessing.failures[0].message


def test_a_metric_the_evaluation_could_not_compute_fails_its_bar():
    blessing = bless(metrics(click={"auc": None, "accuracy": float("nan")}),
                     thresholds={"click.auc": 0.6, "click.accuracy": 0.5})
    assert failing(blessing) == ["click.accuracy", "click.auc"]
    assert all("not computed" in c.message for c in blessing.failures)


# ---- regression against the served version -----------------------------------------------


def test_regression_beyond_tolerance_refuses_within_tolerance_blesses():
    served = metrics(intent={"accuracy": 0.90, "macro_f1": 0.80, "loss": 0.3}, joint={"accuracy": 0.8})
    slightly_worse = metrics(intent={"accuracy": 0.895, "macro_f1": 0.81, "loss": 0.9}, joint={"accuracy": 0.8})
    blessing = bless(slightly_worse, tolerance=0.01, baseline=served, baseline_label="served version 3")
    assert blessing.blessed, blessing.reasons
    compared = sorted(c.metric for c in blessing.checks)
    assert compared == ["intent.accuracy", "intent.macro_f1", "joint.accuracy"]  # losses and counts are not

    worse = metrics(intent={"accuracy": 0.885, "macro_f1": 0.81}, joint={"accuracy": 0.8})
    blessing = bless(worse, tolerance=0.01, baseline=served, baseline_label="served version 3")
    assert not blessing.blessed and failing(blessing) == ["intent.accuracy"]
    message = blessing.failures[0].message
    assert "served version 3 has 0.9000" in message and "worse by 0.0150 > tolerance 0.01" in message
    assert bless(worse, tolerance=0.02, baseline=served).blessed


def test_regression_direction_follows_the_metric():
    served = metrics(price={"rmse": 1.00, "mae": 0.50})
    assert not bless(metrics(price={"rmse": 1.03, "mae": 0.40}), tolerance=0.01, baseline=served).blessed
    blessing = bless(metrics(price={"rmse": 0.70, "mae": 0.505}), tolerance=0.01, baseline=served)
    assert blessing.blessed, blessing.reasons
    assert any("better by 0.3000" in r for r in blessing.reasons)


def test_a_new_task_has_nothing_to_regress_against_and_joint_accuracy_is_not_compared():
    served = metrics(intent={"accuracy": 0.9}, joint={"accuracy": 0.9})
    new = metrics(intent={"accuracy": 0.9}, sentiment={"accuracy": 0.2}, joint={"accuracy": 0.2})
    blessing = bless(new, tolerance=0.01, baseline=served)
    assert blessing.blessed, blessing.reasons
    assert [c.metric for c in blessing.checks] == ["intent.accuracy"]
    assert any(n.startswith("sentiment: a new task") for n in blessing.notes)
    assert any(n.startswith("joint.accuracy: not compared, the tasks differ") for n in blessing.notes)
    # a bar on the new task still applies
    assert failing(bless(new, thresholds={"sentiment.accuracy": 0.5}, baseline=served)) == ["sentiment.accuracy"]


def test_a_served_task_the_new_model_lacks_refuses():
    served = metrics(intent={"accuracy": 0.9}, sentiment={"accuracy": 0.7})
    blessing = bless(metrics(intent={"accuracy": 0.95}), baseline=served)
    assert not blessing.blessed and failing(blessing) == ["sentiment"]
    assert "clients would break" in blessing.failures[0].message


def test_no_baseline_and_no_thresholds_blesses_and_says_so():
    blessing = bless(metrics(intent={"accuracy": 0.1}))
    assert blessing.blessed and blessing.checks == []
    assert any("no served version" in n for n in blessing.notes)
    assert blessing.to_json()["reasons"] == [f"note: {n}" for n in blessing.notes]


def test_negative_tolerance_is_refused():
    with pytest.raises(ValueError, match="tolerance=-0.1"):
        bless(metrics(intent={"accuracy": 0.9}), tolerance=-0.1)


# ---- threshold keys --------------------------------------------------------------------


@pytest.mark.parametrize("key, expected", [
    ("intent.f1",
     "pipeline.gate.thresholds.intent.f1: 'intent' does not report 'f1' (it reports accuracy, macro_f1, loss)"),
    ("slots.f1", "pipeline.gate.thresholds.slots.f1: no task 'slots' in this config (tasks: intent, price, click)"),
    ("accuracy", "pipeline.gate.thresholds.accuracy: a threshold key is '<task>.<metric>'"),
    ("joint.f1", "pipeline.gate.thresholds.joint.f1: 'joint' does not report 'f1'"),
])
def test_threshold_on_a_metric_not_reported_is_a_config_error_naming_the_key(key, expected):
    with pytest.raises(ConfigError) as info:
        check_thresholds({key: 0.5}, REPORTED, "cfg.yaml")
    assert str(info.value).startswith("cfg.yaml: ") and expected in str(info.value)


def test_known_threshold_keys_pass():
    check_thresholds({"intent.accuracy": 0.9, "price.rmse": 2.0, "joint.accuracy": 0.5, "click.loss": 0.7},
                     REPORTED)


def test_gate_logic_does_not_import_tensorflow():
    code = ("import sys, mtlflow.pipeline.gate as g, mtlflow.pipeline.slices, mtlflow.pipeline.fingerprint; "
            "g.bless({'a': {'accuracy': 1.0}}, thresholds={'a.accuracy': 0.5}); "
            "assert 'tensorflow' not in sys.modules, 'tensorflow imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# ---- slices ----------------------------------------------------------------------------


def test_slices_group_by_value_and_small_slices_report_their_count_only():
    values = ["web", "app", None, "web", ["a", "b"], "web", "app", ""]
    seen = []

    def evaluate(index):
        seen.append(index.tolist())
        return {"intent": {"accuracy": float(len(index))}}

    out = slice_metrics(values, evaluate, min_examples=2)
    assert list(out) == ["web", "(missing)", "app", "a|b"]  # by size, then name
    assert out["web"] == {"intent": {"accuracy": 3.0}, "count": 3}
    assert out["(missing)"]["count"] == 2 and "intent" in out["(missing)"]
    assert out["a|b"] == {"count": 1, "too_few": True}
    assert sorted(seen) == [[0, 3, 5], [1, 6], [2, 7]]  # the small slice is never evaluated
    assert slice_key(float("nan")) == MISSING and slice_key(True) == "true" and slice_key(3) == "3"
    with pytest.raises(ValueError, match="min_examples=0"):
        slice_metrics(values, evaluate, min_examples=0)


# ---- fingerprints ------------------------------------------------------------------------


def test_hashes_depend_on_content_not_place_or_key_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for root in (a, b):
        (root / "sub").mkdir(parents=True)
        (root / "sub" / "x.txt").write_text("same", "utf-8")
        (root / "y.bin").write_bytes(np.arange(5, dtype=np.int8).tobytes())
    assert hash_path(a) == hash_path(b) and hash_path(a / "y.bin") == hash_path(b / "y.bin")
    (b / "sub" / "x.txt").write_text("changed", "utf-8")
    assert hash_path(a) != hash_path(b)
    assert hash_path(tmp_path / "missing") is None
    assert hash_json({"x": 1, "y": [1, 2]}) == hash_json({"y": [1, 2], "x": 1}) != hash_json({"x": 1, "y": [2, 1]})
