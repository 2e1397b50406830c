"""The ChnSentiCorp example config parses and learns from a few hundred real reviews (skipped without the data)."""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "chnsenticorp.yaml"
DATA = ROOT.parent / "shared" / "data" / "chnsenticorp"


def test_chnsenticorp_example_config_parses():
    from mtlflow.config import load_config

    config = load_config(EXAMPLE)
    assert config.inputs.text.tokenizer == "char" and config.inputs.text.column == "text_a"
    assert [(t.name, t.type, t.column) for t in config.tasks] == [("sentiment", "binary", "label")]
    assert config.data.bucket_boundaries and config.training.early_stopping.monitor == "sentiment.accuracy"
    assert config.encoder.bigrams is not None  # character pairs: the chosen setting (BENCHMARKS.md)


@pytest.mark.skipif(not all((DATA / f).is_file() for f in ("train.tsv", "dev.tsv", "test.tsv")),
                    reason=f"ChnSentiCorp data not found at {DATA} (the project's shared data folder)")
def test_chnsenticorp_example_learns_in_one_epoch(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from chnsenticorp import example_config, prepare_data, run_config

    # the first rows of each split (the full splits would only cost time)
    paths = prepare_data(DATA, tmp_path / "data", limit={"train": 500, "validation": 100, "test": 400})
    config = example_config(paths, seed=1, training={"epochs": 1, "batch_size": 32, "early_stopping": None})
    result = run_config(config, tmp_path, "small")
    labels = [line.split("\t", 1)[0] for line in Path(paths["test"]).read_text("utf-8").splitlines()[1:]]
    majority = max(labels.count("0"), labels.count("1")) / len(labels)
    assert len(labels) == 400
    assert result["test_accuracy"] > majority + 0.05, (result, majority)
