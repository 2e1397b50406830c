"""``--set KEY=VALUE``: any config key, validated like the file, errors naming the key."""

from __future__ import annotations

import pytest

from mtlflow.config import apply_overrides, load_config
from mtlflow.errors import ConfigError

CONFIG = """data: {train: train.jsonl}
inputs: {text: {}}
tasks:
  - {name: intent, type: multiclass}
  - {name: slots, type: tagging}
profiles:
  smoke: {training: {epochs: 1}}
"""


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "config.yaml"
    p.write_text(CONFIG, "utf-8")
    return p


def test_values_are_yaml_and_apply_after_the_profile(path):
    config = load_config(path, "smoke", ["training.epochs=2", "training.seed=7", "training.balance.method=cagrad",
                                         "training.balance.c=0.4", "tasks[1].weight=0.5", "encoder.mlp=[32, 16]",
                                         "data.max_rows=null"])
    assert (config.training.epochs, config.training.seed) == (2, 7)
    assert config.training.balance.method == "cagrad" and config.training.balance.hyperparameters == {"c": 0.4}
    assert config.tasks[1].weight == 0.5 and config.encoder.mlp == [32, 16] and config.data.max_rows is None


def test_the_raw_config_is_not_changed():
    raw = {"training": {"epochs": 3}}
    assert apply_overrides(raw, ["training.epochs=4"]) == {"training": {"epochs": 4}}
    assert raw == {"training": {"epochs": 3}}


@pytest.mark.parametrize("override, message", [
    ("training.epochz=2", "training.epochz: unknown key; allowed keys here: epochs, batch_size"),
    ("training.epochs=0", "training.epochs: Input should be greater than 0 (got 0) (from --set training.epochs=0)"),
    ("training.balance.method=pcgrad2", "training.balance.method: unknown balance method 'pcgrad2'"),
    ("tasks[1].scheme=bilou", "tasks[1].scheme: Input should be 'bio' or 'bioes'"),
    ("training.balance.c=0.4", "training.balance.c: not a hyperparameter of 'fixed' (only of cagrad)"),
])
def test_an_invalid_value_names_the_key(path, override, message):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=[override])
    assert str(info.value).startswith(f"{path}: ") and message in str(info.value), str(info.value)
    assert f"(from --set {override})" in str(info.value)


@pytest.mark.parametrize("override, message", [
    ("training", "--set training: expected KEY=VALUE, e.g. --set training.epochs=2"),
    ("=3", "--set =3: expected KEY=VALUE"),
    ("training..epochs=2", "'training..epochs' is not a key path"),
    ("tasks[5].weight=1", "--set tasks[5].weight=1: tasks[5]: no such list entry (the list has 2)"),
    ("training.epochs=[1", "--set training.epochs=[1: the value is not valid YAML"),
    ("tasks.weight=1", "--set tasks.weight=1: tasks is not a mapping"),
])
def test_a_malformed_override_says_what_is_wrong(path, override, message):
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides=[override])
    assert message in str(info.value), str(info.value)
