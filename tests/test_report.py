import json
import math

import pytest

from mtlflow.evaluate.report import metrics_markdown, write_metrics

METRICS = {
    "intent": {"accuracy": 0.97, "macro_f1": 0.95123456, "count": 600},
    "slots": {
        "precision": 0.9,
        "recall": 0.8,
        "f1": 0.847,
        "exact_match": 0.75,
        "per_type": {
            "date": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
            "loc": {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1},
        },
    },
    "joint": {"accuracy": float("nan")},
}


def test_markdown_has_a_row_per_task_metric():
    md = metrics_markdown(METRICS)
    lines = md.splitlines()
    assert "| task | metric | value |" in lines
    assert "| intent | accuracy | 0.9700 |" in lines
    assert "| intent | macro_f1 | 0.9512 |" in lines
    assert "| intent | count | 600 |" in lines
    assert "| slots | exact_match | 0.7500 |" in lines
    assert "| joint | accuracy | n/a |" in lines
    # nested per_type is not a row of the main table
    assert not any(line.startswith("| slots | per_type") for line in lines)


def test_markdown_per_type_table():
    lines = metrics_markdown(METRICS).splitlines()
    assert "### slots: per-type metrics" in lines
    assert "| type | precision | recall | f1 | support |" in lines
    assert "| date | 1.0000 | 0.5000 | 0.6667 | 2 |" in lines
    assert "| loc | 0.0000 | 0.0000 | 0.0000 | 1 |" in lines
    assert not any(line.startswith("### intent") for line in lines)


def test_write_metrics_json_and_md(tmp_path):
    out = tmp_path / "eval"
    json_path, md_path = write_metrics(METRICS, out)
    text = json_path.read_text(encoding="utf-8")
    assert "NaN" not in text
    loaded = json.loads(text)
    assert loaded["joint"]["accuracy"] is None
    assert loaded["intent"]["count"] == 600
    assert loaded["slots"]["per_type"]["date"]["support"] == 2
    assert text.startswith('{\n  "intent"')
    assert "| joint | accuracy | n/a |" in md_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "metrics.md"]


def test_write_metrics_overwrites_and_keeps_unicode(tmp_path):
    write_metrics({"a": {"x": 1.0}}, tmp_path)
    write_metrics({"意图": {"accuracy": math.inf}}, tmp_path)
    text = (tmp_path / "metrics.json").read_text(encoding="utf-8")
    assert "意图" in text
    assert json.loads(text) == {"意图": {"accuracy": None}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "metrics.md"]


def test_failed_write_leaves_old_file_and_no_temp_files(tmp_path, monkeypatch):
    write_metrics({"a": {"x": 1.0}}, tmp_path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("mtlflow.evaluate.report.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_metrics({"a": {"x": 2.0}}, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "metrics.md"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a": {"x": 1.0}}
