"""The command line: every command on a real run directory, JSON output, one-line errors."""

import json

import pytest

from conftest import write_synthetic_project
from mtlflow.cli import main


def test_evaluate_json(trained_synthetic, capsys):
    run, metrics = trained_synthetic
    assert main(["evaluate", str(run.directory), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["topic"]["accuracy"] == pytest.approx(metrics["topic"]["accuracy"])
    assert set(out) >= {"topic", "colors", "flag", "score", "tags", "joint"}


def test_evaluate_on_other_data_prints_a_table(trained_synthetic, capsys):
    run, _ = trained_synthetic
    data = run.config.data.validation
    assert main(["evaluate", str(run.directory), "--data", data]) == 0
    out = capsys.readouterr().out
    assert "| topic | accuracy |" in out and "| joint | accuracy |" in out


def test_predict_texts_and_jsonl(trained_synthetic, tmp_path, capsys):
    run, _ = trained_synthetic
    assert main(["predict", str(run.directory), "alpha xa xb town", "--json"]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert line["prediction"]["topic"]["label"] == "alpha"
    assert {s["text"] for s in line["prediction"]["tags"]["spans"]} == {"xa xb", "town"}

    records = tmp_path / "in.jsonl"
    records.write_text('{"text": "delta w1"}\n{"text": "gamma mblue"}\n', "utf-8")
    assert main(["predict", str(run.directory), "--input", str(records), "--json"]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.strip().splitlines()]
    assert [l["prediction"]["topic"]["label"] for l in lines] == ["delta", "gamma"]

    assert main(["predict", str(run.directory), "beta w2"]) == 0
    assert "topic" in capsys.readouterr().out


def test_export_versions(trained_synthetic, tmp_path, capsys):
    run, _ = trained_synthetic
    base = tmp_path / "serving" / "topics"
    assert main(["export", str(run.directory), str(base)]) == 0
    assert main(["export", str(run.directory), str(base), "--version", "7"]) == 0
    assert main(["export", str(run.directory), str(base)]) == 0
    assert sorted(p.name for p in base.iterdir()) == ["1", "7", "8"]
    assert main(["export", str(run.directory), str(base), "--version", "7"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mtlflow: error:") and "already exists" in err


def test_train_command_and_errors(tmp_path, capsys):
    config = write_synthetic_project(tmp_path / "p", n_train=80, epochs=1)
    assert main(["train", str(config), "--out", str(tmp_path / "run"), "--quiet"]) == 0
    assert "| topic | accuracy |" in capsys.readouterr().out
    assert (tmp_path / "run" / "metrics.json").is_file()

    assert main(["evaluate", str(tmp_path / "nowhere")]) == 2
    assert "not a run directory" in capsys.readouterr().err

    bad = tmp_path / "bad.yaml"
    bad.write_text(config.read_text().replace("type: multilabel", "type: multi_label"), "utf-8")
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mtlflow: config error:") and "tasks[1].type" in err and "Traceback" not in err


def test_schema_and_init(tmp_path, capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"data", "inputs", "encoder", "sharing", "tasks", "training", "export"} <= set(schema["properties"])

    assert main(["init", "customer_service", str(tmp_path / "cs")]) == 0
    for name in ("config.yaml", "train.jsonl", "validation.jsonl", "test.jsonl"):
        assert (tmp_path / "cs" / name).is_file()
    assert main(["init", "customer_service", str(tmp_path / "cs")]) == 2
    assert main(["init", "nope", str(tmp_path / "x")]) == 2
    assert "available: customer_service" in capsys.readouterr().err


@pytest.mark.parametrize("template", ["snips", "nlu", "sentence_vectors"])
def test_config_only_templates_are_valid(template, tmp_path, capsys):
    from mtlflow.config import load_config

    assert main(["init", template, str(tmp_path / template)]) == 0
    assert "point its data paths" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / template).iterdir()) == ["config.yaml"]
    assert load_config(tmp_path / template / "config.yaml").tasks


def test_predict_rejects_malformed_records(trained_synthetic, tmp_path, capsys):
    run, _ = trained_synthetic
    records = tmp_path / "bad.jsonl"
    records.write_text('{"text": ["not", "a", "string"]}\n', "utf-8")
    assert main(["predict", str(run.directory), "--input", str(records)]) == 2
    err = capsys.readouterr().err
    assert "input column 'text'" in err and "Traceback" not in err
    records.write_text('{"txt": "typo in the column"}\n', "utf-8")
    assert main(["predict", str(run.directory), "--input", str(records)]) == 2
    assert "lack column 'text'" in capsys.readouterr().err
    assert main(["export", str(run.directory), str(tmp_path / "x"), "--version", "-1"]) == 2


def test_a_data_error_leaves_no_run_directory(tmp_path, capsys):
    config = write_synthetic_project(tmp_path / "p", n_train=40, epochs=1)
    lines = (tmp_path / "p" / "train.jsonl").read_text("utf-8").splitlines()
    lines[6] = lines[6].replace('"topic": "', '"topic": 7, "x": "')  # a number where a label is expected
    lines[9] = "{not json"
    (tmp_path / "p" / "train.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mtlflow: data error:") and "train.jsonl:10:" in err
    assert not (tmp_path / "run").exists()


def test_the_parser_knows_every_command_without_loading_tensorflow():
    import subprocess
    import sys

    code = ("import sys, mtlflow.cli as c; p = c._parser(); "
            "[p.parse_args(a) for a in (['serve', '--model-base-path', 'm', '--model-name', 'n'], "
            "['diagnose', 'run'], ['compare', 'c.yaml'], ['pipeline', 'c.yaml', '--serving-dir', 'm'], "
            "['embed', 'in.jsonl', 'out.jsonl', '--encoder', 'bert'])]; print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_diagnose_through_the_cli(trained_synthetic, capsys):
    from mtlflow.cli import main

    run, _ = trained_synthetic
    assert main(["diagnose", str(run.directory)]) == 0
    assert "trained tasks" in capsys.readouterr().out
    assert (run.directory / "diagnose.png").is_file()
