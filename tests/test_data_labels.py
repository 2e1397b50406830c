"""Labels of the wrong JSON type, and a missing key versus null: errors name file, line and fix."""

import json

import pytest

from mtlflow.config import parse_config
from mtlflow.data.encode import encode_table, fit_tasks
from mtlflow.data.readers import read_table
from mtlflow.errors import DataError
from mtlflow.tasks import create_task

TASKS = [
    {"name": "intent", "type": "multiclass"},
    {"name": "topics", "type": "multilabel"},
    {"name": "slots", "type": "tagging", "column": "tags"},
    {"name": "price", "type": "regression"},
    {"name": "flag", "type": "binary"},
]
GOOD = {"text": "a b", "intent": "x", "topics": ["p"], "tags": ["O", "B-t"], "price": 1.5, "flag": True}


def _encode(tmp_path, rows, train_rows=(GOOD,), **data):
    config = parse_config({"data": {"train": "x", **data}, "inputs": {"text": {}}, "tasks": TASKS})
    tasks = {s.name: create_task(s) for s in config.tasks}
    train = tmp_path / "train.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in train_rows), "utf-8")
    fit_tasks(read_table(train), config, tasks)
    path = tmp_path / "eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    return encode_table(read_table(path), config, tasks, "evaluation"), tasks


WRONG_TYPES = [
    ({"intent": ["refund", "complaint"]}, "expected one class: a string or an integer class id, got an array"),
    ({"intent": {"name": "refund"}}, "got an object"),
    ({"intent": True}, "got a boolean"),
    ({"intent": 2.5}, "got a number"),
    ({"topics": 3}, "expected an array of label names"),
    ({"topics": {"p": 1}}, "got an object"),
    ({"topics": ["p", None]}, "got an array holding null"),
    ({"tags": 7}, "field 'tags' must be a list of strings, got 7"),  # checked by the JSONL reader
    ({"tags": ["O", 1]}, "field 'tags' must be a list of strings"),
    ({"price": "3.5"}, "expected a number, got a string"),
    ({"price": [1.0]}, "expected a number, got an array"),
    ({"flag": ["yes"]}, "got an array"),
]


@pytest.mark.parametrize("change, phrase", WRONG_TYPES)
def test_a_label_of_the_wrong_json_type_names_file_line_and_what_was_expected(tmp_path, change, phrase):
    with pytest.raises(DataError) as error:
        _encode(tmp_path, [GOOD, {**GOOD, **change}])
    message = str(error.value)
    assert "eval.jsonl:2:" in message
    assert phrase in message
    assert "write it like" in message  # the fix


def test_a_list_given_to_a_multiclass_task_never_becomes_a_class(tmp_path):
    rows = [GOOD, {**GOOD, "intent": ["refund", "complaint"]}]
    split, tasks = _encode(tmp_path, [GOOD], train_rows=rows, on_bad_label="mask")
    assert tasks["intent"].labels == ["x"]  # not "['refund', 'complaint']"


def test_wrong_types_can_be_masked_and_are_listed_with_their_line(tmp_path):
    split, _ = _encode(tmp_path, [GOOD, {**GOOD, "intent": ["a", "b"]}], on_bad_label="mask")
    assert split.masks["intent"].tolist() == [1, 0]
    [row] = split.issues["labels"]["intent"]["masked_rows"]
    assert row["location"].endswith("eval.jsonl:2") and row["why"] == "bad label"
    assert "got an array" in row["reason"]


def test_csv_labels_are_strings_and_a_numeric_regression_cell_is_fine(tmp_path):
    config = parse_config({"data": {"train": "x"}, "inputs": {"text": {}},
                           "tasks": [{"name": "price", "type": "regression"}]})
    tasks = {s.name: create_task(s) for s in config.tasks}
    path = tmp_path / "train.csv"
    path.write_text("text,price\na b,3.5\nc d,\n", "utf-8")
    table = read_table(path)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    assert split.masks["price"].tolist() == [1, 0]


def test_a_missing_key_is_an_error_naming_file_line_and_fix(tmp_path):
    row = {k: v for k, v in GOOD.items() if k != "flag"}
    with pytest.raises(DataError) as error:
        _encode(tmp_path, [GOOD, GOOD, row])
    message = str(error.value)
    assert "eval.jsonl:3:" in message and "task 'flag'" in message and "no 'flag' key" in message
    assert '"flag": null' in message and "data.on_missing_label: mask" in message


def test_null_masks_without_error_and_is_listed(tmp_path):
    split, _ = _encode(tmp_path, [GOOD, {**GOOD, "flag": None}])
    assert split.masks["flag"].tolist() == [1, 0]
    report = split.issues["labels"]["flag"]
    assert report["missing"] == 1
    [row] = report["masked_rows"]
    assert row["location"].endswith("eval.jsonl:2") and row["why"] == "null"


def test_a_missing_key_means_unlabelled_when_the_config_says_so(tmp_path):
    row = {k: v for k, v in GOOD.items() if k not in ("flag", "tags")}
    split, _ = _encode(tmp_path, [GOOD, {**GOOD, "flag": None}, row], on_missing_label="mask")
    assert split.masks["flag"].tolist() == [1, 0, 0]
    assert split.masks["slots"].tolist() == [1, 1, 0]
    rows = split.issues["labels"]["flag"]["masked_rows"]
    assert [(r["location"].rsplit(":", 1)[1], r["why"]) for r in rows] == [("2", "null"), ("3", "missing key")]


def test_skipped_rows_and_filtered_labels_are_all_listed(tmp_path):
    rows = [GOOD, {**GOOD, "text": None}, GOOD, {**GOOD, "text": 5}]
    split, _ = _encode(tmp_path, rows, on_bad_row="skip")
    assert [s["location"].rsplit(":", 1)[1] for s in split.issues["skipped_rows"]] == ["2", "4"]
