"""``mtlflow pipeline`` end to end on the customer-service corpus: push, serve, cache, refuse.

Every run trains a small BiGRU for a few epochs (seconds). The data gets a ``channel``
column (app / web / phone, and three ``kiosk`` rows in test) to slice the evaluation by.
"""

import json
import random
import time

import numpy as np
import pytest
import yaml

from mtlflow.cli import main, write_template
from mtlflow.errors import ConfigError
from mtlflow.pipeline.fingerprint import hash_path
from mtlflow.pipeline.push import model_fingerprint
from mtlflow.pipeline.record import PipelineError
from mtlflow.pipeline.runner import STAGES, run_pipeline

EXAMPLES = 700
CHANNELS = ("app", "web", "phone")
TEXT = "我想取消昨天下的订单"


@pytest.fixture(autouse=True)
def _code_revision(monkeypatch):
    """A fixed code revision, so no test depends on (or runs) version control."""
    monkeypatch.setenv("MTLFLOW_CODE_REVISION", "test-revision")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """The generated corpus with a ``channel`` column; returns its folder."""
    directory = tmp_path_factory.mktemp("corpus")
    write_template("customer_service.yaml", directory, examples=EXAMPLES, seed=3)
    rng = random.Random(0)
    for split in ("train", "validation", "test"):
        path = directory / f"{split}.jsonl"
        rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
        for i, row in enumerate(rows):
            row["channel"] = "kiosk" if split == "test" and i < 3 else rng.choice(CHANNELS)
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return directory


def write_config(data_dir, path, *, tasks=("intent", "slots"), epochs=8, gate=None, test_file="test.jsonl"):
    """A small config over ``data_dir``'s corpus (absolute data paths), written to ``path``."""
    raw = yaml.safe_load((data_dir / "config.yaml").read_text("utf-8"))
    raw["data"].update(train=str(data_dir / "train.jsonl"), validation=str(data_dir / "validation.jsonl"),
                       test=str(data_dir / test_file))
    raw["tasks"] = [t for t in raw["tasks"] if t["name"] in tasks]
    raw["encoder"] = {"type": "bigru", "embedding_dim": 32, "units": 32, "dropout": 0.0}
    raw["training"].update(epochs=epochs, learning_rate=0.01, early_stopping=None, diagnostics_every=None)
    raw["pipeline"] = {"slices": ["channel"], "min_slice_examples": 5, "gate": gate or {"tolerance": 0.15}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def bad_test_file(corpus, path):
    """The test split with two rows labelled with an intent training never saw."""
    rows = [json.loads(line) for line in (corpus / "test.jsonl").read_text("utf-8").splitlines()]
    rows[5]["intent"] = rows[9]["intent"] = "teleport"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def versions(serving_dir):
    return sorted(p.name for p in serving_dir.iterdir()) if serving_dir.exists() else []


def record(run_dir):
    raw = json.loads((run_dir / "pipeline.json").read_text("utf-8"))
    return {s["name"]: s for s in raw["stages"]}


def test_pipeline_pushes_serves_reuses_and_adds_a_task(corpus, tmp_path):
    from mtlflow.serving import ModelManager

    serving, run = tmp_path / "serving", tmp_path / "run"
    first = run_pipeline(write_config(corpus, tmp_path / "v1.yaml"), serving, run, verbose=False)
    assert first.statuses == dict.fromkeys(STAGES, "ran")
    assert first.blessed and first.pushed_version == 1 and versions(serving) == ["1"]

    # the record: inputs with content hashes, outputs that still hash the same, code version, timing
    stages = record(run)
    assert list(stages) == list(STAGES)
    train_file = corpus / "train.jsonl"
    assert stages["validate"]["inputs"]["files"]["train"] == {"path": str(train_file), "sha256": hash_path(train_file)}
    for stage in stages.values():
        assert stage["code_version"]["revision"] == "test-revision" and stage["fingerprint"]
        assert stage["outputs"] and all(hash_path(run / p) == h for p, h in stage["outputs"].items())
        assert stage["inputs"]["profile"] is None and len(stage["inputs"]["config_hash"]) == 64
    assert stages["train"]["seconds"] > 1 and stages["train"]["inputs"]["upstream"]["transform"]
    for name in ("validate/schema.json", "validate/anomalies.json", "validate/statistics/test.json",
                 "gate/blessing.json", "evaluate/slices.json"):
        assert (run / name).is_file(), name

    # training reused the transform stage's vocabularies and label inventories
    for name in ("vocab.json", "state.json"):
        assert json.loads((run / "train" / name).read_text("utf-8")) == \
            json.loads((run / "transform" / name).read_text("utf-8"))

    # per-slice metrics; the 3 kiosk rows are reported with their count only
    evaluation = json.loads((run / "evaluate" / "evaluation.json").read_text("utf-8"))
    slices = json.loads((run / "evaluate" / "slices.json").read_text("utf-8"))["channel"]
    assert slices["kiosk"] == {"count": 3, "too_few": True}
    assert sum(s["count"] for s in slices.values()) == evaluation["examples"]
    assert {"app", "web", "phone"} <= set(slices) and 0.0 <= slices["app"]["intent"]["accuracy"] <= 1.0

    # the served version's card carries the evaluation and the model's fingerprint
    card = json.loads((serving / "1" / "assets.extra" / "mtlflow.json").read_text("utf-8"))
    metrics = json.loads((run / "evaluate" / "metrics.json").read_text("utf-8"))
    assert card["metrics"] == metrics and card["pipeline"]["model"] == model_fingerprint(run / "train")
    assert metrics["intent"]["accuracy"] > 0.3  # 11 intents: chance is about 0.09
    trained = json.loads((run / "train" / "metrics.json").read_text("utf-8"))  # the trainer's own test metrics
    assert metrics["intent"]["accuracy"] == pytest.approx(trained["intent"]["accuracy"])

    manager = ModelManager("nlu", serving, poll_seconds=0.2)
    manager.start()
    try:
        assert list(manager.available) == [1]

        # nothing changed: every stage is reused and nothing is pushed
        checkpoint = run / "train" / "checkpoints" / "best"
        before = hash_path(checkpoint)
        again = run_pipeline(tmp_path / "v1.yaml", serving, run, verbose=False)
        assert again.statuses == dict.fromkeys(STAGES, "cached")
        assert again.pushed_version is None and again.served_version == 1 and again.blessed
        assert versions(serving) == ["1"] and hash_path(checkpoint) == before

        # add sentiment: every stage runs again, version 2 is pushed and the running manager serves it
        second = run_pipeline(write_config(corpus, tmp_path / "v2.yaml", tasks=("intent", "slots", "sentiment")),
                              serving, run, verbose=False)
        assert second.statuses == dict.fromkeys(STAGES, "ran") and second.pushed_version == 2, second.reasons
        assert any(r.startswith("note: sentiment: a new task") for r in second.reasons)
        assert any(r.startswith("pass: intent.accuracy") and "served version 1" in r for r in second.reasons)
        deadline = time.monotonic() + 60
        while 2 not in manager.available and time.monotonic() < deadline:
            time.sleep(0.1)
        servable = manager.resolve()
        assert servable.version == 2 and "predict_sentiment" in servable.signatures
        outputs = servable.run("serving_default", {"text": np.array([TEXT.encode()], dtype=object)})
        labels = json.loads((run / "transform" / "state.json").read_text("utf-8"))["sentiment"]["labels"]
        assert outputs["sentiment_label"][0].decode() in labels and outputs["intent_label"].shape == (1,)
    finally:
        manager.stop()

    # a bar the model cannot reach: only gate and push run again, and nothing is pushed
    v3 = dict(tasks=("intent", "slots", "sentiment"), gate={"thresholds": {"intent.accuracy": 1.01}, "tolerance": 0.15})
    third = run_pipeline(write_config(corpus, tmp_path / "v3.yaml", **v3), serving, run, verbose=False)
    assert third.statuses == {**dict.fromkeys(STAGES[:4], "cached"), "gate": "ran", "push": "skipped"}
    assert third.blessed is False and third.pushed_version is None and versions(serving) == ["1", "2"]
    blessing = json.loads((run / "gate" / "blessing.json").read_text("utf-8"))
    assert blessing["blessed"] is False
    assert any(r.startswith("fail: intent.accuracy =") and "< minimum 1.01" in r for r in blessing["reasons"])
    assert json.loads((run / "push" / "pushed.json").read_text("utf-8"))["pushed"] is False

    # a run that fails on bad data does not cost the next run its cache
    bad = write_config(corpus, tmp_path / "v4.yaml", test_file=bad_test_file(corpus, tmp_path / "bad.jsonl"), **v3)
    with pytest.raises(PipelineError, match="stage 'validate' failed"):
        run_pipeline(bad, serving, run, verbose=False)
    fixed = run_pipeline(tmp_path / "v3.yaml", serving, run, verbose=False)
    assert fixed.statuses == {"validate": "ran", **dict.fromkeys(STAGES[1:5], "cached"), "push": "skipped"}
    assert versions(serving) == ["1", "2"]


def test_validation_failure_stops_before_training(corpus, tmp_path, capsys):
    config = write_config(corpus, tmp_path / "bad.yaml", test_file=bad_test_file(corpus, tmp_path / "bad.jsonl"))
    serving, run = tmp_path / "serving", tmp_path / "run"
    with pytest.raises(PipelineError) as info:
        run_pipeline(config, serving, run, verbose=False)
    message = str(info.value)
    assert "stage 'validate' failed" in message and "new_label" in message and "'teleport'" in message
    assert str(run / "validate" / "anomalies.json") in message and info.value.exit_code == 2
    stages = record(run)
    assert stages["validate"]["status"] == "failed"
    assert all(stages[s]["status"] == "skipped" for s in STAGES[1:])
    assert not (run / "train").exists() and not serving.exists()
    (anomaly,) = [a for a in json.loads((run / "validate" / "anomalies.json").read_text("utf-8"))["anomalies"]
                  if a["kind"] == "new_label"]
    assert anomaly["split"] == "test" and anomaly["column"] == "intent" and anomaly["severity"] == "error"

    # the command line (with a profile): a one-line error and a non-zero exit
    raw = yaml.safe_load(config.read_text("utf-8"))
    config.write_text(yaml.safe_dump({**raw, "profiles": {"smoke": {"training": {"epochs": 1}}}}), "utf-8")
    argv = ["pipeline", str(config), "--serving-dir", str(serving), "--out", str(run), "--profile", "smoke", "--quiet"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "[1/6] validate: failed" in captured.out
    assert captured.err.startswith("mtlflow: pipeline failed: stage 'validate' failed")
    assert record(run)["validate"]["inputs"]["profile"] == "smoke"

    # on_anomaly: warn reports and goes on; the unknown label then stops the transform stage
    raw = yaml.safe_load(config.read_text("utf-8"))
    raw["pipeline"]["validation"] = {"on_anomaly": "warn"}
    config.write_text(yaml.safe_dump(raw), "utf-8")
    with pytest.raises(PipelineError, match=r"stage 'transform' failed: .*'teleport'"):
        run_pipeline(config, serving, run, verbose=False)
    assert [s["status"] for s in record(run).values()] == ["ran", "failed", "skipped", "skipped", "skipped", "skipped"]


def test_threshold_on_a_metric_not_reported_fails_before_anything_runs(corpus, tmp_path, capsys):
    config = write_config(corpus, tmp_path / "c.yaml", gate={"thresholds": {"intent.f1": 0.9}})
    with pytest.raises(ConfigError, match=r"pipeline\.gate\.thresholds\.intent\.f1: 'intent' does not report 'f1'"):
        run_pipeline(config, tmp_path / "serving", tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()
    assert main(["pipeline", str(config), "--serving-dir", str(tmp_path / "s"), "--out", str(tmp_path / "r")]) == 2
    assert "pipeline.gate.thresholds.intent.f1" in capsys.readouterr().err


def test_a_slice_column_not_in_the_data_fails_validation(corpus, tmp_path):
    config = write_config(corpus, tmp_path / "c.yaml")
    raw = yaml.safe_load(config.read_text("utf-8"))
    raw["pipeline"]["slices"] = ["channel", "region"]
    config.write_text(yaml.safe_dump(raw), "utf-8")
    with pytest.raises(PipelineError, match=r"pipeline\.slices\[1\]: column 'region' is not in .*test\.jsonl") as info:
        run_pipeline(config, tmp_path / "serving", tmp_path / "run", verbose=False)
    assert info.value.exit_code == 2 and "stage 'validate' failed" in str(info.value)


@pytest.mark.slow
def test_a_worse_model_is_refused_by_the_regression_check(corpus, tmp_path):
    serving = tmp_path / "serving"
    good = run_pipeline(write_config(corpus, tmp_path / "good.yaml", epochs=12,
                                     gate={"tolerance": 0.02}), serving, tmp_path / "good", verbose=False)
    assert good.pushed_version == 1
    served = json.loads((serving / "1" / "assets.extra" / "mtlflow.json").read_text("utf-8"))["metrics"]
    worse = run_pipeline(write_config(corpus, tmp_path / "worse.yaml", epochs=1, gate={"tolerance": 0.02}),
                         serving, tmp_path / "worse", verbose=False)
    assert worse.blessed is False and worse.statuses["push"] == "skipped" and worse.pushed_version is None
    assert versions(serving) == ["1"]
    blessing = json.loads((tmp_path / "worse" / "gate" / "blessing.json").read_text("utf-8"))
    assert blessing["baseline"]["version"] == 1 and blessing["baseline"]["metrics"] == served
    failed = {c["metric"] for c in blessing["checks"] if not c["passed"]}
    assert "intent.accuracy" in failed and "joint.accuracy" in failed
    assert any(r.startswith("fail: intent.accuracy") and "served version 1 has" in r for r in blessing["reasons"])
