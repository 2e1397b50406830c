"""Bad values found while encoding a split name the file and line, or are masked and counted."""

import json

import pytest

from mtlflow.config import parse_config
from mtlflow.data.encode import encode_table, fit_tasks
from mtlflow.data.readers import read_table
from mtlflow.errors import ConfigError, DataError
from mtlflow.tasks import create_task

BASE = {
    "data": {"train": "x"},
    "inputs": {"text": {"tokenizer": "whitespace"}, "numeric": ["age"], "dense": {"column": "vec", "dim": 2}},
    "tasks": [
        {"name": "intent", "type": "multiclass"},
        {"name": "slots", "type": "tagging", "column": "tags"},
        {"name": "price", "type": "regression"},
        {"name": "flag", "type": "binary"},
    ],
}
GOOD = {"text": "a b", "age": 3, "vec": [0.1, 0.2], "intent": "x", "tags": ["O", "B-t"], "price": 1.5, "flag": 1}


def encode(tmp_path, rows, **data):
    config = parse_config({**BASE, "data": {**BASE["data"], **data}})
    tasks = {s.name: create_task(s) for s in config.tasks}
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps(GOOD) + "\n", "utf-8")
    fit_tasks(read_table(train), config, tasks)
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r, allow_nan=True) + "\n" for r in rows), "utf-8")
    return encode_table(read_table(path), config, tasks, "evaluation")


BAD_ROWS = [
    ({"age": float("nan")}, "'age'"),
    ({"age": "old"}, "not a number"),
    ({"age": None}, "missing"),
    ({"vec": [0.1]}, "inputs.dense.dim = 2"),
    ({"vec": "0.5 abc"}, "not a number"),
    ({"vec": [0.1, float("inf")]}, "finite"),
    ({"text": None}, "is missing; every example needs its text"),
    ({"text": ""}, "2 tags for 0 tokens"),
    ({"text": 42}, "must be text"),
    ({"intent": "never_seen"}, "unknown label 'never_seen'"),
    ({"tags": ["O"]}, "1 tags for 2 tokens"),
    ({"tags": ["O", "B-new"]}, "unknown label 'B-new'"),
    ({"tags": ["O", "E-t"]}, "scheme: bioes"),
    ({"tags": ["O", "X"]}, "is not O or <prefix>-<type>"),
    ({"tags": ["O", "B-t", "O"]}, "3 tags for 2 tokens"),
    ({"price": float("nan")}, "finite"),
    ({"price": "cheap"}, "expected a number, got a string"),
    ({"flag": "maybe"}, "not a binary label"),
]


@pytest.mark.parametrize("change, phrase", BAD_ROWS)
def test_bad_value_names_file_and_line(tmp_path, change, phrase):
    rows = [GOOD, GOOD, {**GOOD, **change}]
    with pytest.raises(DataError) as error:
        encode(tmp_path, rows)
    message = str(error.value)
    assert "eval.jsonl:3:" in message
    assert phrase in message
    assert "\n" not in message


def test_bad_labels_can_be_masked_and_counted(tmp_path):
    rows = [GOOD, {**GOOD, "intent": "never_seen"}, {**GOOD, "tags": ["O"]}, {**GOOD, "intent": None}]
    split = encode(tmp_path, rows, on_bad_label="mask")
    assert split.masks["intent"].tolist() == [1, 0, 1, 0]
    assert split.masks["slots"].tolist() == [1, 1, 0, 1]
    issues = split.issues["labels"]
    assert issues["intent"]["bad"] == 1 and issues["intent"]["missing"] == 1
    assert "eval.jsonl:2" in issues["intent"]["messages"][0]
    assert issues["slots"]["bad"] == 1


def test_bad_rows_can_be_skipped_and_recorded(tmp_path):
    split = encode(tmp_path, [GOOD, {**GOOD, "age": "old"}, GOOD], on_bad_row="skip")
    assert len(split) == 2
    [skipped] = split.issues["skipped_rows"]
    assert skipped["location"].endswith("eval.jsonl:2")


def test_missing_column_is_a_config_error_naming_the_key(tmp_path):
    row = {k: v for k, v in GOOD.items() if k != "price"}
    with pytest.raises(ConfigError, match=r"tasks\[2\].column: column 'price' is not in"):
        encode(tmp_path, [row])
