"""``mtlflow diagnose`` and ``mtlflow compare``: reports from tiny runs, Δm in closed form."""

import argparse
import csv
import json
import math
import random

import pytest

from mtlflow import compare, diagnose
from mtlflow.config import parse_config
from mtlflow.errors import MtlflowError

CONFIG = """
data: {train: train.csv, test: test.csv, validation_split: 0.2}
inputs: {numeric: [a, b]}
encoder: {mlp: [16], dropout: 0.0}
tasks:
  - {name: flag, type: binary}
  - {name: score, type: regression}
  - {name: side, type: binary, column: flag, weight: 0}
training:
  epochs: 2
  batch_size: 32
  learning_rate: 0.01
  seed: 3
  diagnostics_every: 1
  early_stopping: {monitor: score.rmse, patience: 3}
"""


def _rows(n, seed):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.gauss(0, 1), rng.gauss(0, 1)
        out.append({"a": f"{a:.3f}", "b": f"{b:.3f}", "flag": int(a + 0.3 * rng.gauss(0, 1) > 0),
                    "score": f"{a - b + 0.1 * rng.gauss(0, 1):.3f}"})
    return out


def _write_csv(path, rows):
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _parser(module):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    _write_csv(root / "train.csv", _rows(250, 1))
    _write_csv(root / "test.csv", _rows(80, 2))
    (root / "config.yaml").write_text(CONFIG, "utf-8")
    args = _parser(compare).parse_args([str(root / "config.yaml"), "--seeds", "1", "--out", str(root / "out"),
                                        "--epochs", "1"])
    assert compare.main(args) == 0
    return root / "out"


# ---- Δm ---------------------------------------------------------------------------------
def test_delta_m_closed_form_with_a_lower_is_better_metric():
    # accuracy 0.8 → 0.9: +12.5 %; RMSE 1.0 → 0.8: lower is better, so +20 %
    assert compare.delta_m({"intent": 0.9, "price": 0.8}, {"intent": 0.8, "price": 1.0},
                           {"price": True}) == pytest.approx((12.5 + 20.0) / 2)
    # the other way round both are negative transfer
    assert compare.delta_m({"intent": 0.8, "price": 1.0}, {"intent": 0.9, "price": 0.8},
                           {"intent": False, "price": True}) == pytest.approx((-100 / 9 - 25.0) / 2)
    # a task only the multi-task model has (no single-task baseline) is not averaged over
    assert compare.delta_m({"a": 0.5, "ctcvr": 0.1}, {"a": 0.4}) == pytest.approx(25.0)
    assert compare.relative_change(2.0, 2.0, lower_is_better=True) == 0.0
    with pytest.raises(ValueError, match="single_task=0"):
        compare.relative_change(1.0, 0.0)


def test_headline_metric_per_task_type():
    config = parse_config({
        "data": {"train": "x"}, "inputs": {"text": {}},
        "tasks": [{"name": "a", "type": "multiclass"}, {"name": "b", "type": "binary"},
                  {"name": "c", "type": "regression"}, {"name": "d", "type": "tagging"},
                  {"name": "e", "type": "multilabel"}, {"name": "f", "type": "binary", "metrics": ["log_loss"]}]})
    got = {t.name: compare.headline_metric(t) for t in config.tasks}
    assert got == {"a": "accuracy", "b": "auc", "c": "rmse", "d": "f1", "e": "micro_f1", "f": "log_loss"}
    assert {"rmse", "mae", "log_loss"} <= compare.LOWER_IS_BETTER


def test_single_task_config_adapts_what_names_other_tasks():
    raw = {"tasks": [{"name": "intent"}, {"name": "slots"}],
           "training": {"early_stopping": {"monitor": "intent.accuracy", "mode": "max"},
                        "groups": {"shared": {"learning_rate": 0.1}, "intent": {"learning_rate": 0.2}},
                        "stages": [{"epochs": 1, "freeze": ["shared", "intent"],
                                    "learning_rate_multipliers": {"slots": 2.0}}]}}
    config, notes = compare.single_task_config(raw, "slots", "f1")
    assert [t["name"] for t in config["tasks"]] == ["slots"]
    assert config["training"]["early_stopping"]["monitor"] == "slots.f1"
    assert config["training"]["groups"] == {"shared": {"learning_rate": 0.1}}
    assert config["training"]["stages"][0]["freeze"] == ["shared"]
    assert notes and raw["tasks"][1]["name"] == "slots"  # the input is not modified


# ---- compare ----------------------------------------------------------------------------
def test_compare_reports_both_tasks_and_delta_m(compared):
    result = json.loads((compared / "compare.json").read_text("utf-8"))
    assert set(result["tasks"]) == {"flag", "score", "side"}
    assert result["tasks"]["flag"]["metric"] == "auc"
    assert result["tasks"]["score"]["metric"] == "rmse" and result["tasks"]["score"]["lower_is_better"]
    assert result["tasks"]["side"]["single_task"] is None and "weight 0" in result["tasks"]["side"]["note"]
    assert result["delta_m_tasks"] == ["flag", "score"]
    means = {t: {k: result["tasks"][t][k]["mean"] for k in ("multi_task", "single_task")} for t in ("flag", "score")}
    expected = compare.delta_m({t: m["multi_task"] for t, m in means.items()},
                               {t: m["single_task"] for t, m in means.items()}, {"score": True})
    assert math.isfinite(result["delta_m"]) and result["delta_m"] == pytest.approx(expected, abs=1e-3)
    assert result["negative_transfer"] == [t for t in ("flag", "score") if result["tasks"][t]["relative_change"] < 0]
    assert sorted(r["variant"] for r in result["runs"]) == ["flag", "multi_task", "score"]
    assert any("early stopping monitors flag.auc" in note for note in result["notes"])
    assert (compared / "compare.md").read_text("utf-8").count("Δm") >= 1
    assert (compared / "compare.png").stat().st_size > 0


def test_compare_refuses_to_overwrite_and_unknown_tasks(compared, tmp_path):
    config = compared.parent / "config.yaml"
    with pytest.raises(MtlflowError, match="already holds a comparison"):
        compare.compare(config, seeds=[1], out=compared, log=None)
    with pytest.raises(MtlflowError, match="'nope' is not a task"):
        compare.compare(config, seeds=[1], out=tmp_path / "other", log=None, tasks=["nope"])


# ---- diagnose ---------------------------------------------------------------------------
def test_diagnose_on_a_trained_run(compared, capsys):
    run_dir = compared / "runs" / "multi_task-seed1"
    assert diagnose.main(_parser(diagnose).parse_args([str(run_dir)])) == 0
    printed = capsys.readouterr().out
    assert "2 trained tasks (flag, score)" in printed  # the weight-0 task takes no part
    assert (run_dir / "diagnose.md").read_text("utf-8").startswith("# Negative-transfer diagnostics")
    assert (run_dir / "diagnose.png").stat().st_size > 0


def _epoch(epoch, cosine, conflict, ratios, measured=40, cosine_sq=None):
    record = {"epoch": epoch, "train_loss": {}, "balance": {
        "tasks": ["intent", "slots", "sentiment"], "steps": 80, "measured_steps": measured,
        "weights": [1.0, 1.0, 0.5], "cosine": cosine, "conflict_rate": conflict, "norm_ratio": ratios}}
    if cosine_sq is not None:
        record["balance"]["cosine_sq"] = cosine_sq
    return record


def test_diagnose_names_a_conflicting_pair_and_a_dominant_task(tmp_path, capsys):
    c = -0.3
    cosine = [[1, 0.2, 0.1], [0.2, 1, c], [0.1, c, 1]]
    conflict = [[0, 0.1, 0.2], [0.1, 0, 0.7], [0.2, 0.7, 0]]
    spread = [[1, 0.05, 0.02], [0.05, 1, c * c + 0.01], [0.02, c * c + 0.01, 1]]  # sd 0.1 around -0.3
    history = {"epochs": [_epoch(1, cosine, conflict, [0.4, 2.2, 0.4], cosine_sq=spread),
                          _epoch(2, cosine, conflict, [0.4, 2.2, 0.4], measured=0) | {"balance": {
                              "tasks": ["intent", "slots", "sentiment"], "steps": 8, "measured_steps": 0,
                              "weights": [1.0, 1.0, 0.5]}}]}
    (tmp_path / "history.json").write_text(json.dumps(history), "utf-8")
    diagnose.main(argparse.Namespace(run_dir=str(tmp_path)))
    printed = capsys.readouterr().out
    report = diagnose.summarize(history)
    assert [p["tasks"] for p in report["conflicting_pairs"]] == [["slots", "sentiment"]]
    assert report["conflicting_pairs"][0]["mean_cosine"] == pytest.approx(c)
    assert "slots × sentiment" in printed and "mean cosine -0.300" in printed and "40 measured steps" in printed
    low, high = report["conflicting_pairs"][0]["cosine_interval"]
    assert high < 0 and low == pytest.approx(-0.3 - 1.96 * 0.1 * (40 / 39) ** 0.5 / 40 ** 0.5, abs=1e-4)
    # slots: 2.2 / mean(0.4, 0.4) = 5.5× the other tasks' mean norm
    assert [n["task"] for n in report["dominant_tasks"]] == ["slots"]
    assert report["norms"][1]["mean_dominance"] == pytest.approx(5.5)
    assert "slots 5.5×" in printed
    assert report["weight_epochs"] == [1, 2] and report["measured_epochs"] == [1]
    assert (tmp_path / "diagnose.png").exists() and "**conflict**" in (tmp_path / "diagnose.md").read_text("utf-8")


def test_diagnose_means_weight_epochs_by_measured_steps():
    agree = [[1, 0.5, 0.5], [0.5, 1, 0.5], [0.5, 0.5, 1]]
    fight = [[1, -0.5, 0.5], [-0.5, 1, 0.5], [0.5, 0.5, 1]]
    zero = [[0] * 3] * 3
    history = {"epochs": [_epoch(1, agree, zero, [1, 1, 1], measured=3), _epoch(2, fight, zero, [1, 1, 1], measured=1)]}
    report = diagnose.summarize(history)
    assert report["cosine_mean"][0][1] == pytest.approx((3 * 0.5 - 0.5) / 4)
    assert report["cosine_last"][0][1] == pytest.approx(-0.5)
    assert report["conflicting_pairs"] == [] and report["dominant_tasks"] == []


def test_diagnose_needs_evidence_to_call_a_conflict(capsys):
    """A mean cosine of -0.012 over 23 measured steps is no evidence of a conflict."""
    cosine = [[1, -0.012, 0.3], [-0.012, 1, 0.3], [0.3, 0.3, 1]]
    rates = [[0, 0.52, 0.1], [0.52, 0, 0.1], [0.1, 0.1, 0]]
    few = diagnose.summarize({"epochs": [_epoch(1, cosine, rates, [1, 1, 1], measured=23)]})
    assert few["conflicting_pairs"] == [] and few["measured_steps"] == 23
    line = diagnose.summary_lines(few)[1]
    assert "too few measured steps to call a conflict (23; at least 30 needed)" in line
    # the same mean over 400 steps, but spread widely (sd 0.4, no cos² recorded: the bound √(1-m²)): still no call
    many = diagnose.summarize({"epochs": [_epoch(1, cosine, rates, [1, 1, 1], measured=400)]})
    assert many["conflicting_pairs"] == []
    low, high = many["pairs"][0]["cosine_interval"]
    assert low < 0 < high and "no conflicting task pairs over 400 measured steps" in diagnose.summary_lines(many)[1]
    # a consistent negative cosine over enough steps is a conflict
    tight = [[1, 0.0005, 0.1], [0.0005, 1, 0.1], [0.1, 0.1, 1]]
    strong = diagnose.summarize({"epochs": [_epoch(1, cosine, rates, [1, 1, 1], measured=2000, cosine_sq=tight)]})
    assert [p["tasks"] for p in strong["conflicting_pairs"]] == [["intent", "slots"]]


def test_diagnose_without_diagnostics_says_how_to_get_them(tmp_path):
    history = {"epochs": [{"epoch": 1, "balance": {"tasks": ["a", "b"], "steps": 5, "measured_steps": 0,
                                                    "weights": [1.0, 1.0]}}]}
    (tmp_path / "history.json").write_text(json.dumps(history), "utf-8")
    with pytest.raises(MtlflowError, match="diagnostics_every: null.*set `training.diagnostics_every`"):
        diagnose.diagnose(tmp_path)
    with pytest.raises(MtlflowError, match="no such file"):
        diagnose.diagnose(tmp_path / "nothing")
