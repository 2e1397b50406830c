"""Every task type learns its synthetic signal well beyond chance, in one shared model."""

import json

import pytest


def test_every_task_type_beats_chance(trained_synthetic):
    run, metrics = trained_synthetic
    # chance: 4 balanced classes → 0.25 accuracy
    assert metrics["topic"]["accuracy"] > 0.9
    # chance micro-F1 for independent 40% labels ≈ 0.4-0.5
    assert metrics["colors"]["micro_f1"] > 0.9
    # chance AUC 0.5; flag rows with a null label are not counted
    assert metrics["flag"]["auc"] > 0.95
    assert metrics["flag"]["count"] < 200
    # the target is a count of 0..3 (std ≈ 1.1); predicting the mean gives RMSE ≈ 1.1
    assert metrics["score"]["rmse"] < 0.5
    # spans are fixed word patterns
    assert metrics["tags"]["f1"] > 0.9
    assert 0.0 < metrics["joint"]["accuracy"] <= 1.0


def test_run_directory_is_complete(trained_synthetic):
    run, metrics = trained_synthetic
    d = run.directory
    for name in ("config.yaml", "state.json", "vocab.json", "data_report.json", "history.json", "training_curves.png",
                 "metrics.json", "metrics.md"):
        assert (d / name).is_file(), name
    saved = json.loads((d / "metrics.json").read_text("utf-8"))
    assert set(saved) == {"topic", "colors", "flag", "score", "tags", "joint"}
    assert saved["topic"]["accuracy"] == pytest.approx(metrics["topic"]["accuracy"])
    assert (d / "export" / "1" / "saved_model.pb").is_file()
    assert (d / "export" / "1" / "assets.extra" / "mtlflow.json").is_file()
    assert list((d / "tensorboard").iterdir()), "TensorBoard events written"
    report = json.loads((d / "data_report.json").read_text("utf-8"))
    assert report["train"]["labels"]["flag"]["missing"] > 100  # ~30% of 600 unlabelled


def test_predict_decodes_every_task(trained_synthetic):
    run, _ = trained_synthetic
    [prediction] = run.inference().predict({"text": ["w1 beta mred yes up up xa xb w3 town"]})
    assert prediction["topic"]["label"] == "beta"
    assert "red" in prediction["colors"]["labels"]
    assert prediction["flag"]["label"] == 1
    assert prediction["score"]["value"] == pytest.approx(2.0, abs=0.6)
    spans = {(s["type"], s["text"]) for s in prediction["tags"]["spans"]}
    assert spans == {("item", "xa xb"), ("place", "town")}
