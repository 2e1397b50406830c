"""Config errors: every mistake is a one-line ConfigError naming the exact key path.

Each bad config below is the valid ``BASE`` config with exactly one mistake. The
message must start with ``<file>: <key path>: `` (so ``tasks[0].threshold.float``
does not pass for ``tasks[0].threshold``) and, for closed sets, list the allowed values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from mtlflow.cli import main
from mtlflow.config import Config, config_schema, load_config, parse_config
from mtlflow.data.encode import check_columns
from mtlflow.data.table import Table
from mtlflow.errors import ConfigError

TASK_TYPES = ["multiclass", "multilabel", "binary", "regression", "tagging"]
SECTIONS = ["data", "inputs", "encoder", "sharing", "tasks", "training", "export", "pipeline", "profiles"]

INTENT = "{name: intent, type: multiclass}"
SLOTS = "{name: slots, type: tagging, column: tags}"
SENTIMENT = "{name: sentiment, type: multiclass}"


def cfg(
    *,
    data: str = "{train: train.jsonl}",
    inputs: str = "{text: {tokenizer: char}}",
    tasks: tuple[str, str, str] | str = (INTENT, SLOTS, SENTIMENT),
    extra: str = "",
) -> str:
    """The valid base config as YAML text, with one section replaced or added."""
    task_block = tasks if isinstance(tasks, str) else "\n" + "".join(f"  - {t}\n" for t in tasks)
    text = f"data: {data}\ninputs: {inputs}\ntasks: {task_block}\n"
    return text + (extra + "\n" if extra else "")


def with_task(index: int, entry: str) -> tuple[str, str, str]:
    """The base tasks with entry ``index`` replaced by ``entry`` (a YAML flow mapping)."""
    tasks = [INTENT, SLOTS, SENTIMENT]
    tasks[index] = entry
    return tuple(tasks)


BASE = cfg()


def write(tmp_path: Path, text: str | bytes, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def config_error(path: Path) -> str:
    """The message of the ConfigError that loading ``path`` raises (checked single-line)."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message, f"multi-line message: {message!r}"
    return message


def allowed_part(message: str, marker: str) -> list[str]:
    """The comma-separated list after ``marker`` in ``message``."""
    assert marker in message, message
    return [item.strip() for item in message.split(marker, 1)[1].split(",")]


# ---- the base config is valid -----------------------------------------------------------


def test_base_config_is_valid(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert isinstance(config, Config)
    assert [(t.name, t.type) for t in config.tasks] == [
        ("intent", "multiclass"),
        ("slots", "tagging"),
        ("sentiment", "multiclass"),
    ]
    assert config.tasks[1].label_column == "tags"
    assert config.tasks[2].label_column == "sentiment"  # defaults to the name
    assert config.inputs.text.tokenizer == "char"
    assert config.data.train == "train.jsonl"
    assert config.training.early_stopping.monitor == "loss"


def test_valid_variants_parse(tmp_path):
    """Legal values next to the illegal ones below (a task metric as monitor, all task types)."""
    text = cfg(
        tasks=(
            "{name: intent, type: multilabel, threshold: {a: 0.3}, separator: ';'}",
            "{name: slots, type: tagging, column: tags, scheme: bioes, metrics: [f1]}",
            "{name: sentiment, type: binary, threshold: 0.7, positive: pos}",
        ),
        extra="training: {early_stopping: {monitor: slots.f1, mode: max}, clip_norm: null}",
    )
    config = load_config(write(tmp_path, text))
    assert [t.type for t in config.tasks] == ["multilabel", "tagging", "binary"]
    assert config.training.early_stopping.monitor == "slots.f1"
    assert config.training.clip_norm is None
    assert config.tasks[0].threshold == {"a": 0.3}


def test_shipped_template_parses():
    text = files("mtlflow.templates").joinpath("customer_service.yaml").read_text("utf-8")
    config = parse_config(yaml.safe_load(text), "customer_service.yaml")
    assert {t.type for t in config.tasks} >= {"multiclass", "tagging"}


# ---- one mistake each -------------------------------------------------------------------

# (id, yaml text, exact key path, fragments the message must contain)
BAD_CONFIGS = [
    (
        "unknown-task-type",
        cfg(tasks=with_task(2, "{name: sentiment, type: multiklass}")),
        "tasks[2].type",
        ["unknown task type 'multiklass'", *TASK_TYPES],
    ),
    (
        "missing-task-type",
        cfg(tasks=with_task(2, "{name: sentiment}")),
        "tasks[2].type",
        ["required", *TASK_TYPES],
    ),
    (
        "monitor-metric-of-wrong-task-type",
        cfg(extra="training: {early_stopping: {monitor: slots.accuracy}}"),
        "training.early_stopping.monitor",
        ["'slots.accuracy'", "loss", "joint.accuracy", "intent.accuracy", "slots.f1", "sentiment.macro_f1"],
    ),
    (
        "monitor-unknown-task",
        cfg(extra="training: {early_stopping: {monitor: topic.f1}}"),
        "training.early_stopping.monitor",
        ["'topic.f1'", "slots.f1", "intent.loss"],
    ),
    (
        "early-stopping-mode",
        cfg(extra="training: {early_stopping: {mode: up}}"),
        "training.early_stopping.mode",
        ["'min'", "'max'", "'auto'", "'up'"],
    ),
    (
        "early-stopping-patience-zero",
        cfg(extra="training: {early_stopping: {patience: 0}}"),
        "training.early_stopping.patience",
        ["greater than 0"],
    ),
    (
        "unknown-tokenizer",
        cfg(inputs="{text: {tokenizer: bpe}}"),
        "inputs.text.tokenizer",
        ["'whitespace'", "'char'", "'bpe'"],
    ),
    (
        "typo-in-text-input",
        cfg(inputs="{text: {colum: utterance}}"),
        "inputs.text.colum",
        ["unknown key", "column", "tokenizer", "max_length"],
    ),
    (
        "unknown-data-key",
        cfg(data="{train: train.jsonl, foo: 1}"),
        "data.foo",
        ["unknown key", "train", "validation", "format", "on_bad_row"],
    ),
    (
        "unknown-data-format",
        cfg(data="{train: train.jsonl, format: parquet}"),
        "data.format",
        ["'csv'", "'tsv'", "'jsonl'", "'jointbert'"],
    ),
    (
        "bad-on-bad-label",
        cfg(data="{train: train.jsonl, on_bad_label: drop}"),
        "data.on_bad_label",
        ["'error'", "'mask'"],
    ),
    (
        "validation-split-one",
        cfg(data="{train: train.jsonl, validation_split: 1.0}"),
        "data.validation_split",
        ["less than 1"],
    ),
    (
        "missing-data-train",
        cfg(data="{validation: dev.jsonl}"),
        "data.train",
        ["required key is missing"],
    ),
    (
        "missing-data-section",
        "inputs: {text: {tokenizer: char}}\ntasks: [" + INTENT + "]\n",
        "data",
        ["required key is missing"],
    ),
    (
        "unknown-encoder-type",
        cfg(extra="encoder: {type: gru}"),
        "encoder.type",
        ["'bilstm'", "'bigru'", "'transformer'"],
    ),
    (
        "negative-encoder-dropout",
        cfg(extra="encoder: {dropout: -0.1}"),
        "encoder.dropout",
        ["greater than or equal to 0", "-0.1"],
    ),
    (
        "zero-in-encoder-mlp",
        cfg(extra="encoder: {mlp: [128, 0]}"),
        "encoder.mlp[1]",
        ["greater than 0"],
    ),
    (
        "unknown-sharing-type",
        cfg(extra="sharing: {type: soft}"),
        "sharing.type",
        ["'hard'", "'none'", "'soft'"],
    ),
    (
        "negative-task-weight",
        cfg(tasks=with_task(0, "{name: intent, type: multiclass, weight: -1}")),
        "tasks[0].weight",
        ["greater than or equal to 0"],
    ),
    (
        "string-task-weight",
        cfg(tasks=with_task(0, "{name: intent, type: multiclass, weight: heavy}")),
        "tasks[0].weight",
        ["valid number", "'heavy'"],
    ),
    (
        "unknown-tagging-scheme",
        cfg(tasks=with_task(1, "{name: slots, type: tagging, column: tags, scheme: iob}")),
        "tasks[1].scheme",
        ["'bio'", "'bioes'", "'iob'"],
    ),
    (
        "threshold-on-multiclass",
        cfg(tasks=with_task(0, "{name: intent, type: multiclass, threshold: 0.3}")),
        "tasks[0].threshold",
        ["unknown key", "labels", "weight"],
    ),
    (
        "binary-threshold-above-one",
        cfg(tasks=with_task(0, "{name: intent, type: binary, threshold: 1.5}")),
        "tasks[0].threshold",
        ["less than 1", "1.5"],
    ),
    (
        "multilabel-threshold-not-a-number",
        cfg(tasks=with_task(0, "{name: intent, type: multilabel, threshold: high}")),
        "tasks[0].threshold",
        ["valid number", "'high'"],
    ),
    (
        "multilabel-threshold-above-one",
        cfg(tasks=with_task(0, "{name: intent, type: multilabel, threshold: 1.5}")),
        "tasks[0].threshold",
        ["less than 1"],
    ),
    (
        "task-named-joint",
        cfg(tasks=with_task(2, "{name: joint, type: multiclass}")),
        "tasks[2].name",
        ["reserved"],
    ),
    (
        "epochs-boolean",
        cfg(extra="training: {epochs: true}"),
        "training.epochs",
        ["valid integer"],
    ),
    (
        "multilabel-threshold-mapping-bad-value",
        cfg(tasks=with_task(0, "{name: intent, type: multilabel, threshold: {a: x}}")),
        "tasks[0].threshold",
        ["valid number"],
    ),
    (
        "unknown-multiclass-metric",
        cfg(tasks=with_task(0, "{name: intent, type: multiclass, metrics: [f1]}")),
        "tasks[0].metrics",
        ["unknown metric 'f1'", "accuracy", "macro_f1"],
    ),
    (
        "unknown-tagging-metric",
        cfg(tasks=with_task(1, "{name: slots, type: tagging, column: tags, metrics: [accuracy]}")),
        "tasks[1].metrics",
        ["unknown metric 'accuracy'", "precision", "recall", "f1", "exact_match"],
    ),
    (
        "zero-in-task-tower",
        cfg(tasks=with_task(0, "{name: intent, type: multiclass, tower: [64, 0]}")),
        "tasks[0].tower[1]",
        ["greater than 0"],
    ),
    (
        "task-name-with-dash",
        cfg(tasks=with_task(0, "{name: my-intent, type: multiclass}")),
        "tasks[0].name",
        ["'my-intent'", "pattern"],
    ),
    (
        "task-name-starting-with-digit",
        cfg(tasks=with_task(2, "{name: 2sentiment, type: multiclass}")),
        "tasks[2].name",
        ["'2sentiment'"],
    ),
    (
        "missing-task-name",
        cfg(tasks=with_task(0, "{type: multiclass}")),
        "tasks[0].name",
        ["required key is missing"],
    ),
    (
        "duplicate-task-names",
        cfg(tasks=with_task(2, "{name: intent, type: multiclass}")),
        "tasks[2].name",
        ["duplicate task name 'intent'", "tasks[0]"],
    ),
    (
        "task-entry-is-a-string",
        cfg(tasks=with_task(1, "slots")),
        "tasks[1]",
        ["'slots'"],
    ),
    (
        "tasks-empty",
        cfg(tasks="[]"),
        "tasks",
        ["at least 1 item"],
    ),
    (
        "tasks-as-mapping",
        cfg(tasks="{intent: {type: multiclass}}"),
        "tasks",
        ["valid list"],
    ),
    (
        "tagging-without-text-input",
        cfg(inputs="{numeric: [age]}"),
        "tasks[1].type",
        ["tagging task needs a text input", "inputs.text"],
    ),
    (
        "inputs-empty",
        cfg(inputs="{}"),
        "inputs",
        ["no input given", "text", "dense", "numeric", "categorical"],
    ),
    (
        "inputs-as-list",
        cfg(inputs="[text]"),
        "inputs",
        ["valid dictionary", "['text']"],
    ),
    (
        "dense-dim-zero",
        cfg(inputs="{text: {tokenizer: char}, dense: {column: emb, dim: 0}}"),
        "inputs.dense.dim",
        ["greater than 0"],
    ),
    (
        "unknown-top-level-section",
        cfg(extra="model: {layers: 2}"),
        "model",
        ["unknown key", *SECTIONS],
    ),
    (
        "epochs-as-string",
        cfg(extra="training: {epochs: ten}"),
        "training.epochs",
        ["valid integer", "'ten'"],
    ),
    (
        "batch-size-zero",
        cfg(extra="training: {batch_size: 0}"),
        "training.batch_size",
        ["greater than 0"],
    ),
    (
        "learning-rate-zero",
        cfg(extra="training: {learning_rate: 0}"),
        "training.learning_rate",
        ["greater than 0"],
    ),
    (
        "clip-norm-zero",
        cfg(extra="training: {clip_norm: 0}"),
        "training.clip_norm",
        ["greater than 0"],
    ),
    (
        "unknown-optimizer",
        cfg(extra="training: {optimizer: rmsprop}"),
        "training.optimizer",
        ["'adam'", "'adamw'", "'sgd'", "'rmsprop'"],
    ),
    (
        "shuffle-buffer-has-no-effect",
        cfg(extra="training: {shuffle_buffer: 1000}"),
        "training.shuffle_buffer",
        ["no effect", "exact seeded shuffle", "remove the key"],
    ),
    (
        "unknown-balance-method",
        cfg(extra="training: {balance: {method: uncertain}}"),
        "training.balance.method",
        ["'fixed'", "'pcgrad'", "'uncertain'"],
    ),
    (
        "training-section-null",
        cfg(extra="training:"),
        "training",
        ["valid dictionary", "None"],
    ),
    (
        "unknown-export-key",
        cfg(extra="export: {dir: out}"),
        "export.dir",
        ["unknown key", "base_dir"],
    ),
]


@pytest.mark.parametrize(
    "text, key, fragments",
    [case[1:] for case in BAD_CONFIGS],
    ids=[case[0] for case in BAD_CONFIGS],
)
def test_bad_config_names_key_path(tmp_path, text, key, fragments):
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}: {key}: "), message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_a_run_directory_saved_with_the_old_shuffle_buffer_still_loads(tmp_path):
    config = load_config(write(tmp_path, cfg(extra="training: {shuffle_buffer: 100000, epochs: 3}")))
    assert config.training.epochs == 3 and "shuffle_buffer" not in config.training.model_dump()


def test_bad_config_cases_each_differ_from_base_by_one_mistake():
    """Guard for the table itself: ids unique, and enough cases."""
    ids = [case[0] for case in BAD_CONFIGS]
    assert len(ids) == len(set(ids)) >= 24
    assert all(case[1] != BASE for case in BAD_CONFIGS)


@pytest.mark.parametrize(
    "entry, key, expected, absent",
    [
        # the allowed keys are those of the entry's own type, not of the first task type
        ("{name: slots, type: tagging, positive: y}", "tasks[0].positive", {"scheme", "separator", "labels"}, {"threshold"}),
        ("{name: slots, type: multilabel, scheme: bio}", "tasks[0].scheme", {"threshold", "separator", "labels"}, {"scheme"}),
        ("{name: slots, type: binary, labels: [a]}", "tasks[0].labels", {"positive", "threshold"}, {"labels"}),
        ("{name: slots, type: regression, labels: [a]}", "tasks[0].labels", {"normalize"}, {"labels", "threshold"}),
        ("{name: slots, type: multiclass, threshold: 0.5}", "tasks[0].threshold", {"labels"}, {"threshold", "scheme"}),
    ],
    ids=["tagging", "multilabel", "binary", "regression", "multiclass"],
)
def test_unknown_task_key_lists_the_keys_of_that_task_type(tmp_path, entry, key, expected, absent):
    path = write(tmp_path, cfg(tasks=f"[{entry}]"))
    message = config_error(path)
    assert message.startswith(f"{path}: {key}: unknown key; "), message
    allowed = set(allowed_part(message, "allowed keys here: "))
    assert {"name", "type", "column", "weight", "tower", "dropout", "metrics"} <= allowed
    assert expected <= allowed, message
    assert not (absent & allowed), message


def test_several_errors_are_counted_on_one_line(tmp_path):
    path = write(tmp_path, cfg(extra="training: {epochs: 0, batch_size: 0, learning_rate: 0}"))
    message = config_error(path)
    assert message.startswith(f"{path}: training.epochs: "), message
    assert message.endswith("(and 2 more errors)"), message


def test_long_values_are_shortened(tmp_path):
    name = "x" * 200
    path = write(tmp_path, cfg(tasks=with_task(0, f"{{name: {name}, type: multiclass}}")))
    message = config_error(path)
    assert message.startswith(f"{path}: tasks[0].name: "), message
    assert name not in message and "..." in message


def test_parse_config_uses_source_name():
    raw = yaml.safe_load(cfg(extra="encoder: {type: gru}"))
    with pytest.raises(ConfigError, match=r"^my-run\.yaml: encoder\.type: "):
        parse_config(raw, "my-run.yaml")


# ---- the file itself is bad -------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line, problem",
    [
        ("data: {train: train.jsonl\ninputs: [\n", 2, "expected ',' or '}'"),
        ("data:\n  train: a: b\n", 2, "mapping values are not allowed here"),
        ("data: {train: x}\ninputs:\n\ttext: {}\n", 3, "'\\t'"),
    ],
    ids=["unclosed-flow-mapping", "colon-in-value", "tab-indent"],
)
def test_yaml_syntax_error_names_file_and_line(tmp_path, text, line, problem):
    path = write(tmp_path, text)
    message = config_error(path)
    assert message.startswith(f"{path}:{line}:"), message
    assert "invalid YAML" in message and problem in message, message


@pytest.mark.parametrize(
    "text, got",
    [("- data\n- inputs\n", "list"), ("42\n", "int"), ("just a string\n", "str"), ("", "NoneType")],
    ids=["list", "int", "string", "empty-file"],
)
def test_top_level_must_be_a_mapping(tmp_path, text, got):
    path = write(tmp_path, text)
    message = config_error(path)
    assert message == f"{path}: the config must be a mapping of sections, got {got}"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert config_error(path) == f"{path}: no such config file"


def test_non_utf8_file(tmp_path):
    content = b"data: {train: caf\xe9.jsonl}\n"
    path = write(tmp_path, content)
    message = config_error(path)
    assert message.startswith(f"{path}: not UTF-8 text"), message
    assert f"at byte {content.index(bytes([0xE9]))}" in message


def test_directory_instead_of_file(tmp_path):
    message = config_error(tmp_path)
    assert message.startswith(f"{tmp_path}: cannot read the config file"), message


# ---- columns named by the config must be in the data ------------------------------------


def small_table(columns: list[str]) -> Table:
    rows = [{c: f"{c}-{i}" for c in columns} for i in range(2)]
    return Table(
        source="data/train.jsonl",
        columns=columns,
        rows=rows,
        locations=[f"data/train.jsonl:{i + 1}" for i in range(len(rows))],
        skipped=[],
    )


@pytest.mark.parametrize(
    "columns, key, column",
    [
        (["text", "intent", "sentiment"], "tasks[1].column", "tags"),
        (["text", "intent", "tags"], "tasks[2].column", "sentiment"),
        (["utterance", "intent", "tags", "sentiment"], "inputs.text.column", "text"),
    ],
    ids=["tagging-column", "default-column-is-name", "text-column"],
)
def test_check_columns_names_the_key(columns, key, column):
    config = parse_config(yaml.safe_load(BASE))
    with pytest.raises(ConfigError) as info:
        check_columns(small_table(columns), config)
    message = str(info.value)
    assert message == (
        f"{key}: column {column!r} is not in data/train.jsonl (columns: {', '.join(columns)})"
    )


def test_check_columns_accepts_complete_table():
    config = parse_config(yaml.safe_load(BASE))
    check_columns(small_table(["text", "intent", "tags", "sentiment", "unused"]), config)


# ---- the command line -------------------------------------------------------------------


def test_cli_unknown_task_type(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, cfg(tasks=with_task(2, "{name: sentiment, type: multiklass}")))
    assert main(["train", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(f"mtlflow: config error: {path}: tasks[2].type: unknown task type"), err
    assert "tagging" in err and "Traceback" not in err
    assert err.count("\n") == 1 and out == ""
    assert not (tmp_path / "runs").exists()  # failed before creating a run directory


@pytest.mark.parametrize(
    "text, expected",
    [
        ("data: {train: x\n", ":2:"),  # YAML error: file:line
        ("- a\n", "the config must be a mapping"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
    ids=["yaml-syntax", "top-level-list", "not-utf8"],
)
def test_cli_bad_file(tmp_path, capsys, text, expected):
    path = write(tmp_path, text)
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    _, err = capsys.readouterr()
    assert err.startswith(f"mtlflow: config error: {path}"), err
    assert expected in err and "Traceback" not in err


def test_cli_missing_config_file(tmp_path, capsys):
    path = tmp_path / "missing.yaml"
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 2
    _, err = capsys.readouterr()
    assert err == f"mtlflow: config error: {path}: no such config file\n"


def test_cli_missing_data_column(tmp_path, capsys):
    """A config naming a column the data lacks fails as a config error naming the key."""
    rows = [{"text": "订单取消", "intent": "cancel", "sentiment": "neg"}] * 3
    (tmp_path / "train.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8"
    )
    path = write(tmp_path, cfg())
    assert main(["train", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("mtlflow: config error: tasks[1].column: column 'tags' is not in "), err
    assert "train.jsonl" in err and "Traceback" not in err


def test_cli_subprocess_exit_code_and_stderr(tmp_path):
    path = write(tmp_path, cfg(extra="training: {early_stopping: {monitor: slots.accuracy}}"))
    result = subprocess.run(
        [sys.executable, "-m", "mtlflow.cli", "train", str(path), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(
        f"mtlflow: config error: {path}: training.early_stopping.monitor: 'slots.accuracy'"
    ), result.stderr
    assert "slots.f1" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "run").exists()


# ---- the JSON schema --------------------------------------------------------------------


def test_config_schema_is_json_with_all_sections():
    schema = config_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert list(schema["properties"]) == SECTIONS
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"data", "inputs", "tasks"}
    tasks = schema["properties"]["tasks"]
    assert tasks["minItems"] == 1
    assert tasks["items"]["discriminator"]["propertyName"] == "type"
    assert set(tasks["items"]["discriminator"]["mapping"]) == set(TASK_TYPES)
    objects = {name: d for name, d in schema["$defs"].items() if d.get("type") == "object"}
    assert len(objects) >= 10
    assert {name for name, d in objects.items() if d.get("additionalProperties") is not False} == set()


def test_config_schema_rejects_unknown_keys():
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_schema()
    jsonschema.validate(yaml.safe_load(BASE), schema)  # the valid base passes
    bad_configs = (
        cfg(extra="model: {}"),
        cfg(data="{train: t.jsonl, foo: 1}"),
        cfg(tasks=with_task(1, "{name: slots, type: tagging, threshold: 0.5}")),
    )
    for bad in bad_configs:
        with pytest.raises(jsonschema.ValidationError, match="Additional properties|not valid under any"):
            jsonschema.validate(yaml.safe_load(bad), schema)
