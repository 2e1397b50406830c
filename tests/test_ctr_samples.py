"""The public Ali-CCP and AliExpress samples read and train as ESMM (smoke tests for the
readers: 100 rows each, far too few to measure anything)."""

import csv
from pathlib import Path

import pytest
import yaml

from mtlflow.run import train

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def esmm_config(tmp_path, train_file, test_file, numeric, categorical, click, buy):
    config = {
        "data": {"format": "csv", "train": str(train_file), "test": str(test_file), "validation_split": 0.0},
        "inputs": {"numeric": numeric, "categorical": categorical},
        "encoder": {"categorical_dim": 4, "mlp": []},
        "sharing": {"type": "hard"},
        "tasks": [
            {"name": "ctr", "type": "binary", "column": click, "tower": [8]},
            {"name": "cvr", "type": "binary", "column": buy, "where": click, "weight": 0.0, "tower": [8]},
            {"name": "ctcvr", "type": "binary", "column": buy, "product_of": ["ctr", "cvr"]},
        ],
        "training": {"epochs": 1, "batch_size": 32, "early_stopping": None},
        "export": {"base_dir": None},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def header(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return next(csv.reader(f))


@pytest.mark.skipif(not (DATA / "ali-ccp-sample").is_dir(), reason="../shared/data/ali-ccp-sample is not here")
def test_ali_ccp_sample_trains_as_esmm(tmp_path):
    folder = DATA / "ali-ccp-sample"
    columns = header(folder / "ali_ccp_train_sample.csv")
    numeric = [c for c in columns if c.startswith("D")]
    categorical = [c for c in columns if c not in numeric and c not in ("click", "purchase")]
    assert len(numeric) == 8 and len(categorical) == 23
    path = esmm_config(tmp_path, folder / "ali_ccp_train_sample.csv", folder / "ali_ccp_test_sample.csv",
                       numeric, categorical, "click", "purchase")
    run, metrics = train(path, tmp_path / "run", verbose=False, export=False)
    assert metrics["ctr"]["count"] == 50 and metrics["ctcvr"]["count"] == 50
    assert metrics["cvr"]["count"] == 2  # the clicked test impressions


@pytest.mark.skipif(not (DATA / "aliexpress-sample").is_dir(), reason="../shared/data/aliexpress-sample is not here")
def test_aliexpress_sample_trains_as_esmm(tmp_path):
    folder = DATA / "aliexpress-sample"
    columns = header(folder / "aliexpress_train_sample.csv")
    numeric = [c for c in columns if c.startswith("numerical_")]
    categorical = [c for c in columns if c.startswith("categorical_")]
    assert len(numeric) == 63 and len(categorical) == 16
    path = esmm_config(tmp_path, folder / "aliexpress_train_sample.csv", folder / "aliexpress_test_sample.csv",
                       numeric, categorical, "click", "conversion")
    run, metrics = train(path, tmp_path / "run", verbose=False, export=False)
    assert metrics["ctr"]["count"] == 20 and metrics["cvr"]["count"] == 10
