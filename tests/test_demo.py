"""`mtlflow demo`, the main job: end to end, and (slow) at the quality the README promises."""

import json

import pytest

from mtlflow.cli import main


def test_demo_small_end_to_end(tmp_path, capsys):
    """The whole flow on a small corpus and 5 epochs: every artefact is there and usable."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--examples", "1200", "--epochs", "5"]) == 0
    printed = capsys.readouterr().out
    assert "我想取消昨天下的订单" in printed and "| intent | accuracy |" in printed
    for name in ("config.yaml", "metrics.json", "metrics.md", "history.json", "training_curves.png"):
        assert (out / name).is_file(), name
    assert (out / "export" / "1" / "saved_model.pb").is_file()
    assert (out / "data" / "train.jsonl").is_file()
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert set(metrics) == {"intent", "slots", "sentiment", "joint"}
    assert metrics["intent"]["accuracy"] > 0.6  # 11 intents: chance < 0.2 (0.87 in one run)
    assert main(["demo", "--out", str(out)]) == 2  # never overwrites a run


@pytest.mark.slow
def test_demo_meets_its_quality_bar(tmp_path, capsys):
    """Full demo (about 1.5 minutes): intent accuracy ≥ 0.95, slot span F1 ≥ 0.90 on the
    held-out test split, and the running example decoded right."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text("utf-8"))
    assert metrics["intent"]["accuracy"] >= 0.95
    assert metrics["slots"]["f1"] >= 0.90
    assert main(["predict", str(out), "我想取消昨天下的订单", "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)["prediction"]
    assert prediction["intent"]["label"] == "cancel_order"
    spans = {(s["type"], s["text"]) for s in prediction["slots"]["spans"]}
    assert spans == {("date", "昨天"), ("object", "订单")}
