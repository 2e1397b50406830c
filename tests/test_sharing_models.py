"""Sharing architectures from the config: one line switches them, gates are reported,
and ESMM's composed task is the product of its factors."""

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from mtlflow.config import parse_config
from mtlflow.data.synthetic_ctr import ctr_cvr_synthetic, write_csv
from mtlflow.errors import ConfigError
from mtlflow.run import evaluate_run, load_run, train

NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = [f"c{j}" for j in range(4)]


def ctr_project(tmp_path, sharing: dict, tasks: list[dict], n=3000, epochs=3):
    for i, split in enumerate(("train", "test")):
        write_csv(ctr_cvr_synthetic(n if split == "train" else n // 3, seed=i, ctr_bias=-1.0), tmp_path / f"{split}.csv")
    config = {
        "data": {"train": "train.csv", "test": "test.csv", "validation_split": 0.2},
        "inputs": {"numeric": NUMERIC, "categorical": CATEGORICAL},
        "encoder": {"categorical_dim": 4, "mlp": []},
        "sharing": sharing,
        "tasks": tasks,
        "training": {"epochs": epochs, "batch_size": 128, "learning_rate": 0.005, "seed": 1, "early_stopping": None},
        "export": {"base_dir": None},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


TWO_TASKS = [{"name": "ctr", "type": "binary", "column": "click", "tower": [8]},
             {"name": "cvr", "type": "binary", "column": "buy", "tower": [8]}]


@pytest.mark.parametrize("sharing", [
    {"type": "mmoe", "experts": 4, "expert_units": [8]},
    {"type": "cgc", "shared_experts": 2, "task_experts": 1, "expert_units": [8]},
    {"type": "ple", "levels": 2, "expert_units": [8]},
    {"type": "cross_stitch", "units": [16]},
])
def test_each_sharing_type_trains_from_one_config_line(tmp_path, sharing):
    run, metrics = train(ctr_project(tmp_path, sharing, TWO_TASKS), tmp_path / "run", verbose=False, export=False)
    assert metrics["ctr"]["auc"] > 0.75, metrics
    layer_names = [layer.name for layer in run.model.layers]
    assert f"shared_{sharing['type']}" in layer_names
    if sharing["type"] == "cross_stitch":
        assert run.gates is None and not (tmp_path / "run" / "gates.json").exists()
        return
    gates = json.loads((tmp_path / "run" / "gates.json").read_text())
    for task in ("ctr", "cvr"):
        weights = gates["tasks"][task]
        assert abs(sum(weights.values()) - 1.0) < 1e-4  # mean of softmax rows still sums to 1
    assert (tmp_path / "run" / "gates.png").stat().st_size > 1000
    assert "| ctr |" in (tmp_path / "run" / "gates.md").read_text()


def test_evaluate_reloads_a_gated_run_and_reports_the_same_gates(tmp_path):
    sharing = {"type": "mmoe", "experts": 3, "expert_units": [8]}
    run, _ = train(ctr_project(tmp_path, sharing, TWO_TASKS, epochs=2), tmp_path / "run", verbose=False, export=False)
    before = run.gates
    reloaded = load_run(tmp_path / "run")
    evaluate_run(reloaded)
    for task in ("ctr", "cvr"):
        for expert, weight in before["tasks"][task].items():
            assert reloaded.gates["tasks"][task][expert] == pytest.approx(weight, abs=1e-5)
    assert list(before["tasks"]["ctr"]) == ["expert_0", "expert_1", "expert_2"]


ESMM = [
    {"name": "ctr", "type": "binary", "column": "click", "tower": [16]},
    {"name": "cvr", "type": "binary", "column": "buy", "where": "click", "weight": 0.0, "tower": [16]},
    {"name": "ctcvr", "type": "binary", "column": "buy", "product_of": ["ctr", "cvr"]},
]


def test_esmm_ctcvr_is_the_product_and_the_cvr_tower_learns_through_it(tmp_path):
    path = ctr_project(tmp_path, {"type": "hard"}, ESMM, n=4000, epochs=4)
    run, metrics = train(path, tmp_path / "run", verbose=False, export=False)
    columns = ctr_cvr_synthetic(600, seed=7, ctr_bias=-1.0)
    raw = {c: tf.constant(columns[c].astype(np.float32)) for c in NUMERIC}
    raw.update({c: tf.constant(columns[c].astype(str)) for c in CATEGORICAL})
    out = {k: v.numpy() for k, v in run.inference().serve(raw).items()}
    np.testing.assert_allclose(out["ctcvr_probability"], out["ctr_probability"] * out["cvr_probability"], rtol=1e-5)
    # cvr has no loss of its own (weight 0) yet ranks conversions: it learned through ctcvr
    assert metrics["cvr"]["auc"] > 0.7, metrics["cvr"]
    # and it is evaluated on clicked impressions only
    assert metrics["cvr"]["count"] < metrics["ctcvr"]["count"] * 0.8
    assert not any(layer.name.startswith("ctcvr_") for layer in run.model.layers)


def test_where_masks_labels_outside_its_rows_and_says_so(tmp_path, capsys):
    tasks = [{"name": "cvr", "type": "binary", "column": "buy", "where": "click", "tower": [8]}]
    run, metrics = train(ctr_project(tmp_path, {"type": "hard"}, tasks, n=1200, epochs=1), tmp_path / "run",
                         verbose=True, export=False)
    report = json.loads((tmp_path / "run" / "data_report.json").read_text())
    filtered = report["train"]["labels"]["cvr"]["filtered"]
    clicks = sum(1 for line in (tmp_path / "train.csv").read_text().splitlines()[1:]
                 if line.split(",")[list(ctr_cvr_synthetic(1).keys()).index("click")] == "1")
    assert 0 < filtered < 1200 - clicks + 5
    assert "outside its `where` rows" in capsys.readouterr().out


def base_config(**changes):
    config = {"data": {"train": "t.csv"}, "inputs": {"numeric": ["a"]},
              "tasks": [{"name": "ctr", "type": "binary"}, {"name": "cvr", "type": "binary"}]}
    config.update(changes)
    return config


@pytest.mark.parametrize("changes, message", [
    ({"sharing": {"type": "hard", "experts": 4}}, "sharing.experts: not used by sharing type 'hard' (only by mmoe)"),
    ({"sharing": {"type": "mmoe", "levels": 2}}, "sharing.levels: not used by sharing type 'mmoe' (only by ple)"),
    ({"sharing": {"type": "moe"}}, "sharing.type"),
    ({"sharing": {"type": "mmoe", "experts": 0}}, "sharing.experts"),
    ({"sharing": {"type": "cross_stitch", "alpha_self": 1.5}}, "sharing.alpha_self"),
    ({"tasks": [{"name": "ctr", "type": "binary"}, {"name": "x", "type": "binary", "product_of": ["ctr", "cvr"]}]},
     "tasks[1].product_of[1]: 'cvr' is not another task"),
    ({"tasks": [{"name": "ctr", "type": "binary"}, {"name": "r", "type": "regression"},
                {"name": "x", "type": "binary", "product_of": ["ctr", "r"]}]},
     "tasks[2].product_of[1]: task 'r' must be a binary task"),
    ({"tasks": [{"name": "ctr", "type": "binary"}, {"name": "cvr", "type": "binary"},
                {"name": "x", "type": "binary", "product_of": ["ctr", "cvr"], "tower": [4]}]},
     "tasks[2].tower: a product_of task has no head"),
])
def test_bad_sharing_and_composition_configs_name_the_key(changes, message):
    with pytest.raises(ConfigError) as error:
        parse_config(base_config(**changes))
    assert message in str(error.value)


def test_a_saved_config_with_sharing_defaults_reloads():
    config = parse_config(base_config(sharing={"type": "ple"}))
    again = parse_config(json.loads(json.dumps(config.model_dump(mode="json"))))
    assert again.sharing.setting("levels") == 2 and again.sharing.setting("expert_units") == [16]
