"""Data validation: statistics, the schema and every anomaly kind, on small in-memory splits."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap

import pytest

from mtlflow.config import parse_config
from mtlflow.data.table import Table
from mtlflow.errors import DataError
from mtlflow.pipeline.anomalies import ANOMALY_KINDS, Anomaly, format_anomalies, validate_table
from mtlflow.pipeline.schema import ColumnSchema, Schema, infer_schema
from mtlflow.pipeline.statistics import compute_statistics
from mtlflow.run import read_config_table

CONFIG = {
    "data": {"train": "train.jsonl"},
    "inputs": {
        "text": {"max_length": 12},
        "dense": {"column": "vec", "dim": 2},
        "numeric": ["age"],
        "categorical": ["city"],
    },
    "tasks": [
        {"name": "sentiment", "type": "multiclass"},
        {"name": "topics", "type": "multilabel"},
        {"name": "click", "type": "binary"},
        {"name": "price", "type": "regression"},
        {"name": "slots", "type": "tagging", "column": "tags"},
    ],
}


def config(**changes) -> object:
    """The test config with ``section={...}`` merged over it."""
    raw = json.loads(json.dumps(CONFIG))
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values} if isinstance(values, dict) else values
    return parse_config(raw)


def make_rows(n: int) -> list[dict]:
    """Rows whose every column cycles through a fixed set of values (so splits match)."""
    return [
        {
            "text": f"w{i % 5} flies to town",
            "tags": ["O", "O", "O", "B-place"],
            "vec": [(i % 3) * 0.1, 0.5],
            "age": 20 + (i * 7) % 40,
            "city": ["paris", "rome", "oslo"][i % 3],
            "sentiment": ["pos", "neg", "neu"][i % 3],
            "topics": [["a"], ["b"], ["a", "b"], []][i % 4],
            "click": i % 2,
            "price": (i % 7) * 1.5,
        }
        for i in range(n)
    ]


def table(rows: list[dict], source: str = "val.jsonl") -> Table:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    return Table(source, columns, rows, [f"{source}:{i + 1}" for i in range(len(rows))])


@pytest.fixture(scope="module")
def trained():
    """The training split, its statistics and inferred schema under the default config."""
    cfg = config()
    train = table(make_rows(60), "train.jsonl")
    stats = compute_statistics(train, cfg)
    return cfg, train, stats, infer_schema(train, cfg, stats)


def check(trained, rows, split="validation", cfg=None, with_train=True, schema=None):
    default_cfg, _, train_stats, default_schema = trained
    return validate_table(table(rows), schema or default_schema, cfg or default_cfg, split,
                          train_statistics=train_stats if with_train else None)


def only(anomalies: list[Anomaly], kind: str) -> Anomaly:
    found = [a for a in anomalies if a.kind == kind]
    assert len(found) == 1, format_anomalies(anomalies)
    return found[0]


# ---- statistics and schema ------------------------------------------------------------


def test_statistics_are_json_safe_and_right(trained):
    cfg, train, stats, _ = trained
    rows = make_rows(60)
    rows[0]["age"] = None
    rows[1]["age"] = "old"
    rows[2]["tags"] = ["O"]
    stats = compute_statistics(table(rows), cfg)
    json.dumps(stats, allow_nan=False)  # plain JSON, no NaN

    age = stats["columns"]["age"]
    ages = [20 + (i * 7) % 40 for i in range(2, 60)]
    mean = sum(ages) / len(ages)
    assert (age["count"], age["missing"], age["invalid"]) == (59, 1, 1)
    assert age["missing_rate"] == pytest.approx(1 / 60)
    assert (age["min"], age["max"]) == (min(ages), max(ages))
    assert age["mean"] == pytest.approx(mean)
    assert age["std"] == pytest.approx(math.sqrt(sum((a - mean) ** 2 for a in ages) / len(ages)))
    assert stats["columns"]["sentiment"]["values"] == {"neg": 20, "neu": 20, "pos": 20}
    assert stats["columns"]["topics"]["values"] == {"a": 30, "b": 30}
    assert stats["columns"]["click"]["values"] == {"0": 30, "1": 30}
    text = stats["columns"]["text"]
    assert text["tokens"] == {"min": 4, "mean": 4.0, "p95": 4, "max": 4}
    assert text["vocabulary_size"] == 5 + 3
    assert stats["columns"]["vec"]["dim"] == 2
    tags = stats["columns"]["tags"]
    assert tags["values"] == {"O": 59 * 3 + 1, "B-place": 59}
    assert tags["misaligned"] == 1 and tags["lengths"]["min"] == 1


def test_infer_schema(trained):
    _, _, _, schema = trained
    columns = schema.columns
    assert list(columns) == ["text", "vec", "age", "city", "sentiment", "topics", "click", "price", "tags"]
    assert columns["sentiment"].values == ["neg", "neu", "pos"] and columns["sentiment"].task == "sentiment"
    assert columns["tags"].kind == "tags" and columns["tags"].values == ["O", "B-place"]
    assert columns["tags"].keys == ["tasks[4].column"]
    assert (columns["age"].min, columns["age"].max, columns["age"].required) == (20, 59, True)
    assert columns["vec"].dim == 2 and columns["text"].max_tokens == 12
    assert columns["city"].values == ["oslo", "paris", "rome"]
    assert columns["city"].max_missing_rate == pytest.approx(0.1)  # training rate 0 + the default increase
    assert columns["age"].max_missing_rate == 0.0


def test_fixed_labels_are_the_inventory():
    cfg = config(tasks=[{"name": "sentiment", "type": "multiclass", "labels": ["pos", "neg", "meh"]}])
    schema = infer_schema(table(make_rows(6), "train.jsonl"), cfg)
    assert schema.columns["sentiment"].values == ["pos", "neg", "meh"]
    anomalies = validate_table(table(make_rows(6)), schema, cfg, "validation")
    message = only(anomalies, "new_label").message
    assert "2 rows have label 'neu' not in tasks[0].labels" in message
    assert "(or tasks[0].labels)" in message


def test_schema_save_load_round_trip(trained, tmp_path):
    _, _, _, schema = trained
    path = schema.save(tmp_path / "sub" / "schema.json")
    assert [p.name for p in path.parent.iterdir()] == ["schema.json"]  # no temporary file left
    loaded = Schema.load(path)
    assert loaded == schema
    assert loaded.to_json() == json.loads(path.read_text("utf-8"))


def test_corrupt_schema_file_names_file_and_problem(trained, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('{"version": 1,\n "columns": {"age": {"name": "age", "kind": "number",}}}', "utf-8")
    with pytest.raises(DataError, match=rf"{path}:2: the schema file is not valid JSON .*remove "
                                        r"pipeline.validation.schema_file"):
        Schema.load(path)

    doc = trained[3].to_json()
    doc["columns"]["age"]["max"] = "fifty"
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(DataError, match=rf"{path}: columns.age.max: must be a number or null, got 'fifty'"):
        Schema.load(path)

    doc["columns"]["age"] = {"name": "age", "kind": "numbr"}
    path.write_text(json.dumps(doc), "utf-8")
    with pytest.raises(DataError, match=r"columns.age.kind: unknown kind 'numbr'; allowed: text, vector"):
        Schema.load(path)

    with pytest.raises(DataError, match=r"missing.json: no such schema file .*pipeline.validation.schema_file"):
        Schema.load(tmp_path / "missing.json")


def test_column_schema_rejects_unknown_field():
    with pytest.raises(DataError, match=r"column.colour: unknown field; allowed: name, kind"):
        ColumnSchema.from_json({"name": "x", "kind": "number", "colour": 1})


# ---- clean data and the report ----------------------------------------------------------


def test_clean_split_has_no_anomalies(trained):
    cfg, train, train_stats, schema = trained
    assert validate_table(train, schema, cfg, "train", train_stats) == []
    assert check(trained, make_rows(30)) == []
    assert format_anomalies([]) == "no anomalies"


def test_clean_split_read_from_files(tmp_path):
    for name, n in (("train", 40), ("val", 20)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in make_rows(n)), "utf-8")
    cfg = config()
    train = read_config_table(cfg, str(tmp_path / "train.jsonl"))
    stats = compute_statistics(train, cfg)
    schema = infer_schema(train, cfg, stats)
    val = read_config_table(cfg, str(tmp_path / "val.jsonl"))
    assert validate_table(val, schema, cfg, "validation", train_statistics=stats) == []


def test_format_lists_errors_first_one_line_each(trained):
    rows = make_rows(30)
    rows[3]["age"] = 500  # warning
    rows[4]["sentiment"] = "furious"  # error
    anomalies = check(trained, rows)
    assert [a.kind for a in anomalies] == ["out_of_range", "new_label"]
    lines = format_anomalies(anomalies).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("ERROR   new_label: validation: column 'sentiment'")
    assert lines[1].startswith("WARNING out_of_range: validation: column 'age'")
    assert json.loads(json.dumps([a.to_json() for a in anomalies]))[1]["location"] == "val.jsonl:5"


# ---- one test per anomaly kind ------------------------------------------------------------


def test_new_label_message_names_task_label_rows_location_and_fix(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    train_rows, val_rows = make_rows(30), make_rows(20)
    val_rows[16]["sentiment"] = val_rows[18]["sentiment"] = "furious"
    for name, rows in (("train", train_rows), ("val", val_rows)):
        (data / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    cfg = config()
    train = read_config_table(cfg, str(data / "train.jsonl"))
    val = read_config_table(cfg, str(data / "val.jsonl"))
    anomaly = only(validate_table(val, infer_schema(train, cfg), cfg, "validation"), "new_label")
    assert anomaly.severity == "error" and anomaly.column == "sentiment" and anomaly.count == 2
    assert anomaly.location == f"{data / 'val.jsonl'}:17"
    assert anomaly.message == (
        f"validation: column 'sentiment' (task 'sentiment'): 2 rows have label 'furious' never seen in "
        f"training (first at {data / 'val.jsonl'}:17); add it to the training data or set data.on_bad_label: mask"
    )


def test_new_labels_of_multilabel_task_and_mask_makes_a_warning(trained):
    rows = make_rows(30)
    rows[2]["topics"] = ["a", "zz"]
    rows[5]["topics"] = "yy|zz"
    anomaly = only(check(trained, rows), "new_label")
    assert anomaly.severity == "error" and anomaly.count == 3
    assert ("2 rows have labels never seen in training: 'zz' (2 rows, first at val.jsonl:3), "
            "'yy' (1 row, first at val.jsonl:6); add them to the training data") in anomaly.message
    masked = only(check(trained, rows, cfg=config(data={"on_bad_label": "mask"})), "new_label")
    assert masked.severity == "warning"
    assert "these labels are masked (data.on_bad_label: mask)" in masked.message


def test_new_tag(trained):
    rows = make_rows(30)
    rows[7]["tags"] = ["O", "O", "O", "B-city"]
    anomaly = only(check(trained, rows), "new_tag")
    assert anomaly.severity == "error" and anomaly.column == "tags"
    assert anomaly.message == (
        "validation: column 'tags' (task 'slots'): 1 token in 1 row carries tag 'B-city' never seen in training "
        "(first at val.jsonl:8); add it to the training data or set data.on_bad_label: mask"
    )


def test_empty_split(trained):
    anomalies = check(trained, [])
    assert [(a.kind, a.severity) for a in anomalies] == [("empty_split", "error")]
    assert anomalies[0].message.startswith("validation: val.jsonl has no rows; every split needs examples")


def test_missing_column(trained):
    rows = [{k: v for k, v in row.items() if k != "city"} for row in make_rows(30)]
    anomaly = only(check(trained, rows), "missing_column")
    assert anomaly.severity == "error" and anomaly.column == "city"
    assert anomaly.message.startswith(
        "validation: column 'city' (inputs.categorical[0]) is not in val.jsonl (columns: text, tags, vec, age, "
        "sentiment, topics, click, price); add the column to the file, or point inputs.categorical[0] at")


def test_schema_mismatch(trained):
    cfg = config(inputs={**CONFIG["inputs"], "numeric": ["age", "height"]})
    rows = [{**row, "height": 1.8} for row in make_rows(30)]
    anomaly = only(check(trained, rows, cfg=cfg), "schema_mismatch")
    assert anomaly.severity == "error" and anomaly.column == "height"
    assert ("column 'height' (inputs.numeric[1]) is used by the config but not described by the schema "
            "inferred from train.jsonl; infer the schema again") in anomaly.message

    cfg = config(inputs={**CONFIG["inputs"], "numeric": [], "categorical": ["city", "age"]})
    anomaly = only(check(trained, make_rows(30), cfg=cfg), "schema_mismatch")
    assert "column 'age' is a category column in the config (inputs.categorical[1]) but a number column" \
        in anomaly.message


def test_type_change(trained):
    rows = make_rows(30)
    rows[3]["age"] = "old"
    rows[4]["vec"] = [0.1, 0.2, 0.3]
    rows[5]["sentiment"] = ["pos", "neg"]
    rows[6]["click"] = "maybe"
    by_column = {a.column: a for a in check(trained, rows) if a.kind == "type_change"}
    assert sorted(by_column) == ["age", "click", "sentiment", "vec"]
    assert all(a.severity == "error" for a in by_column.values())
    assert by_column["age"].message == (
        "validation: column 'age': 1 row does not hold a finite number (first at val.jsonl:4: got 'old'); "
        "fix the values, or set data.on_bad_row: skip to drop those rows")
    assert "does not hold a list of 2 numbers (first at val.jsonl:5: got 3 numbers)" in by_column["vec"].message
    assert "does not hold a single label (not a list or object) (first at val.jsonl:6: got a list ['pos', 'neg'])" \
        in by_column["sentiment"].message
    assert "set tasks.click.positive to the value that means yes" in by_column["click"].message

    skip = {a.column: a for a in check(trained, rows, cfg=config(data={"on_bad_row": "skip"}))
            if a.kind == "type_change"}
    assert skip["age"].severity == "warning" and "those rows are skipped (data.on_bad_row: skip)" in skip["age"].message
    assert skip["sentiment"].severity == "error"  # labels follow on_bad_label, not on_bad_row


def test_missing_value_of_required_input(trained):
    rows = make_rows(30)
    rows[8]["age"] = None
    rows[9]["text"] = None
    found = {a.column: a for a in check(trained, rows) if a.kind == "missing_value"}
    assert sorted(found) == ["age", "text"] and found["age"].severity == "error"
    assert found["age"].message == (
        "validation: column 'age': 1 row lacks a value (first at val.jsonl:9); numeric inputs need a value in "
        "every row: fill them in (impute), or set data.on_bad_row: skip to drop those rows")
    assert "every example needs its text" in found["text"].message


def test_missing_rate_jump(trained):
    rows = make_rows(30)
    for row in rows[4:10]:
        row["city"] = None
    for row in rows[:2]:
        row["sentiment"] = None  # 2 of 30 = 6.7%: within the allowed 10%
    anomaly = only(check(trained, rows), "missing_rate_jump")
    assert anomaly.severity == "error" and anomaly.column == "city" and anomaly.count == 6
    assert anomaly.message.startswith(
        "validation: column 'city': 20.0% of rows lack a value (6 of 30, first at val.jsonl:5), more than the "
        "10.0% the schema allows")
    assert "raise max_missing_rate_increase" in anomaly.message


def test_all_missing(trained):
    rows = [{**row, "city": None} for row in make_rows(30)]
    anomaly = only(check(trained, rows), "all_missing")
    assert anomaly.severity == "error" and anomaly.column == "city"
    assert "every one of the 30 rows of val.jsonl lacks a value, so the input carries nothing" in anomaly.message

    rows = [{**row, "price": None} for row in make_rows(30)]
    anomaly = only(check(trained, rows, split="test"), "all_missing")
    assert anomaly.severity == "warning"
    assert "so task 'price' cannot be evaluated on the test split" in anomaly.message


def test_label_missing_everywhere_in_training():
    cfg = config()
    rows = [{**row, "price": None} for row in make_rows(20)]
    train = table(rows, "train.jsonl")
    anomalies = validate_table(train, infer_schema(train, cfg), cfg, "train")
    anomaly = only(anomalies, "label_missing_everywhere")
    assert anomaly.severity == "error" and anomaly.column == "price"
    assert anomaly.message == (
        "train: column 'price' (task 'price'): none of the 20 rows of train.jsonl has a value, so task 'price' "
        "cannot learn; fill in the column, point tasks[3].column at the column holding the labels, "
        "or remove the task")


def test_new_category_rate(trained):
    rows = make_rows(30)
    for row in rows[:2]:
        row["city"] = "berlin"  # 2 of 30: below the default 10%
    assert not [a for a in check(trained, rows) if a.kind == "new_category_rate"]
    for row in rows[2:5]:
        row["city"] = "madrid"
    anomaly = only(check(trained, rows), "new_category_rate")
    assert anomaly.severity == "error" and anomaly.count == 5
    assert anomaly.message.startswith(
        "validation: column 'city': 16.7% of values (5 of 30) were never seen in training ('madrid', 'berlin'; "
        "first at val.jsonl:1), more than pipeline.validation.max_new_category_rate = 10.0%")
    relaxed = config(pipeline={"validation": {"max_new_category_rate": 0.5}})
    assert not [a for a in check(trained, rows, cfg=relaxed) if a.kind == "new_category_rate"]


def test_out_of_range_is_a_warning(trained):
    rows = make_rows(30)
    rows[3]["age"] = 62.5  # within 10% of the training range [20, 59]: 62.9
    rows[4]["price"] = -50.0
    anomaly = only(check(trained, rows), "out_of_range")
    assert anomaly.severity == "warning" and anomaly.column == "price"
    assert anomaly.message.startswith(
        "validation: column 'price' (task 'price'): 1 value lies outside the training range [0, 9] by more than "
        "the margin (pipeline.validation.range_margin = 0.1 of the range; first: -50 at val.jsonl:5)")


def test_sequence_length(trained):
    rows = make_rows(30)
    rows[1]["tags"] = ["O", "O", "O"]
    rows[2]["text"] = " ".join(["word"] * 13)
    rows[2]["tags"] = ["O"] * 13
    found = [a for a in check(trained, rows) if a.kind == "sequence_length"]
    assert [(a.column, a.severity) for a in found] == [("text", "warning"), ("tags", "error")]
    assert found[0].message == (
        "validation: column 'text': 1 row (3.3%) has more than 12 tokens (first at val.jsonl:3: 13 tokens); "
        "the tokens past inputs.text.max_length are cut: raise inputs.text.max_length if the end of a text matters")
    assert found[1].message == (
        "validation: column 'tags' (task 'slots'): 1 row has a tag count different from the token count (first at "
        "val.jsonl:2: 3 tags for 4 tokens with the whitespace tokenizer); give one tag per token, or set "
        "data.on_bad_label: mask to drop those labels")


def test_label_distribution_skew(trained):
    rows = make_rows(30)
    for row in rows[:18]:
        row["sentiment"] = "pos"  # pos: 18 + 4 of 30 = 73.3% vs 33.3% in training
    anomaly = only(check(trained, rows), "label_distribution_skew")
    assert anomaly.severity == "error" and anomaly.column == "sentiment"
    assert anomaly.message.startswith(
        "validation: column 'sentiment' (task 'sentiment'): label frequencies differ from training by "
        "L∞ = 0.400, more than pipeline.validation.max_skew = 0.3 (largest for 'pos': 73.3% here vs 33.3% in "
        "training)")
    assert not check(trained, rows, with_train=False)  # skew needs the training statistics
    relaxed = config(pipeline={"validation": {"max_skew": 0.5}})
    assert not check(trained, rows, cfg=relaxed)


def test_binary_label_skew(trained):
    rows = make_rows(30)
    for row in rows[:20]:
        row["click"] = "yes"
    anomaly = only(check(trained, rows), "label_distribution_skew")
    assert anomaly.column == "click" and "largest for yes (1): 83.3% here vs 50.0% in training" in anomaly.message


def test_category_skew(trained):
    rows = make_rows(30)
    for row in rows[:20]:
        row["city"] = "oslo"  # with rows 20, 23, 26, 29: 24 of 30
    anomaly = only(check(trained, rows), "category_skew")
    assert anomaly.severity == "error" and anomaly.column == "city"
    assert ("column 'city': value frequencies differ from training by L∞ = 0.467, more than "
            "pipeline.validation.max_skew = 0.3 (largest for 'oslo': 80.0% here vs 33.3% in training)") \
        in anomaly.message


def test_constant_column_in_training():
    cfg = config()
    rows = [{**row, "age": 40, "click": 1} for row in make_rows(20)]
    train = table(rows, "train.jsonl")
    stats = compute_statistics(train, cfg)
    anomalies = validate_table(train, infer_schema(train, cfg, stats), cfg, "train", stats)
    assert sorted((a.kind, a.column, a.severity) for a in anomalies) == [
        ("constant_column", "age", "warning"), ("constant_column", "click", "warning")]
    by_column = {a.column: a.message for a in anomalies}
    assert by_column["age"] == (
        "train: column 'age': every training row holds the same value 40, so the input carries no signal; "
        "drop it from the config (inputs.numeric[0]) or fix the data source")
    assert "every labelled training row has the label yes (1), so task 'click' learns a constant" in by_column["click"]


def test_where_column_shares_the_label_column():
    cfg = config(tasks=[*CONFIG["tasks"], {"name": "buy", "type": "binary", "where": "click"}])
    rows = [{**row, "buy": i % 3 == 0} for i, row in enumerate(make_rows(20))]
    train = table(rows, "train.jsonl")
    schema = infer_schema(train, cfg)
    assert schema.columns["click"].keys == ["tasks[2].column", "tasks[5].where"]
    assert validate_table(train, schema, cfg, "train") == []
    rows = [{**row, "click": None} for row in rows]
    anomaly = only(validate_table(table(rows), schema, cfg, "test"), "all_missing")
    assert anomaly.column == "click" and anomaly.severity == "warning"


def test_every_anomaly_kind_has_a_test():
    tested = {"empty_split", "schema_mismatch", "missing_column", "all_missing", "missing_value",
              "missing_rate_jump", "type_change", "new_label", "new_tag", "new_category_rate", "out_of_range",
              "sequence_length", "label_distribution_skew", "category_skew", "label_missing_everywhere",
              "constant_column"}
    assert tested == set(ANOMALY_KINDS)


# ---- agreement with the encoder --------------------------------------------------------------


BAD_CHANGES = [
    {"age": "old"},
    {"age": None},
    {"vec": [0.1]},
    {"text": 42},
    {"sentiment": "never_seen"},
    {"tags": ["O", "B-new", "O", "O"]},
    {"tags": ["O"]},
    {"click": "maybe"},
    {"price": "cheap"},
    {"topics": ["zz"]},
]


@pytest.mark.parametrize("change", BAD_CHANGES)
def test_errors_point_at_the_row_the_encoder_rejects(tmp_path, change):
    from mtlflow.data.encode import encode_table, fit_tasks
    from mtlflow.tasks import create_task

    cfg = config()
    train = table(make_rows(12), "train.jsonl")
    tasks = {spec.name: create_task(spec) for spec in cfg.tasks}
    fit_tasks(train, cfg, tasks)
    rows = make_rows(6)
    rows[4] = {**rows[4], **change}
    split = table(rows)
    with pytest.raises(DataError) as error:
        encode_table(split, cfg, tasks, "validation")
    errors = [a for a in validate_table(split, infer_schema(train, cfg), cfg, "validation") if a.severity == "error"]
    assert [a.location for a in errors] == ["val.jsonl:5"]
    assert str(error.value).startswith("val.jsonl:5:")


def test_yes_no_words_match_the_encoder():
    from mtlflow.data import encode
    from mtlflow.pipeline import statistics
    from mtlflow.tasks import binary

    assert statistics.BINARY_TRUE == binary._TRUE and statistics.BINARY_FALSE == binary._FALSE
    assert statistics.WHERE_TRUE == encode._TRUE


def test_validation_modules_do_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys, types, pathlib
        import mtlflow
        package = types.ModuleType("mtlflow.pipeline")  # the three modules, not the package's runner
        package.__path__ = [str(pathlib.Path(mtlflow.__file__).parent / "pipeline")]
        sys.modules["mtlflow.pipeline"] = package
        import mtlflow.pipeline.statistics, mtlflow.pipeline.schema, mtlflow.pipeline.anomalies
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
