"""Every command checks its arguments, paths and config before TensorFlow loads.

One fresh interpreter runs ``mtlflow.cli.main`` on a series of bad command lines and records,
for each, the exit code, the error line and whether TensorFlow had been imported by then.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """data: {train: train.jsonl}
inputs: {text: {}}
tasks: [{name: topic, type: multiclass}]
"""

RUN_EACH = """
import contextlib, io, json, sys
from mtlflow.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(argv)
    results.append({"argv": argv, "code": code, "err": err.getvalue(), "out": out.getvalue()[:200],
                    "tensorflow": "tensorflow" in sys.modules})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("preflight")
    (tmp / "config.yaml").write_text(CONFIG, "utf-8")
    (tmp / "bad.yaml").write_text("data: {train: x\n", "utf-8")
    run = tmp / "run"
    (run / "export" / "3").mkdir(parents=True)
    (run / "config.yaml").write_text(CONFIG, "utf-8")
    cases = {
        "missing-config": ["train", str(tmp / "nope.yaml")],
        "bad-yaml": ["train", str(tmp / "bad.yaml")],
        "bad-set-key": ["train", str(tmp / "config.yaml"), "--set", "training.epochz=2"],
        "bad-set-value": ["train", str(tmp / "config.yaml"), "--set", "training.epochs=0"],
        "resume-without-run": ["train", str(tmp / "config.yaml"), "--resume", "--out", str(tmp / "none")],
        "missing-run-dir": ["evaluate", str(tmp / "nowhere")],
        "existing-export-version": ["export", str(run), str(run / "export"), "--version", "3"],
        "missing-predict-input": ["predict", str(run), "--input", str(tmp / "none.jsonl")],
        "schema": ["schema"],
        "init-unknown-template": ["init", "nope", str(tmp / "x")],
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", RUN_EACH, json.dumps(list(cases.values()))], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    return dict(zip(cases, json.loads(out.stdout.strip().splitlines()[-1])))


@pytest.mark.parametrize("case, fragment", [
    ("missing-config", "nope.yaml: no such config file"),
    ("bad-yaml", "bad.yaml:2:1: invalid YAML"),
    ("bad-set-key", "training.epochz: unknown key; allowed keys here: epochs,"),
    ("bad-set-value", "training.epochs: Input should be greater than 0 (got 0) (from --set training.epochs=0)"),
    ("resume-without-run", "no run to resume"),
    ("missing-run-dir", "not a run directory (no config.yaml)"),
    ("existing-export-version", "version 3 already exists"),
    ("missing-predict-input", "none.jsonl: no such input file"),
    ("init-unknown-template", "unknown template 'nope'"),
])
def test_errors_arrive_before_tensorflow_loads(results, case, fragment):
    result = results[case]
    assert result["code"] == 2, result
    assert result["err"].startswith("mtlflow: ") and fragment in result["err"], result["err"]
    assert "\n" not in result["err"].rstrip("\n")
    assert result["tensorflow"] is False, f"{case}: TensorFlow was imported before the error"


def test_schema_runs_without_tensorflow(results):
    result = results["schema"]
    assert result["code"] == 0 and result["out"].lstrip().startswith("{")
    assert result["tensorflow"] is False


def test_every_argument_has_help_text():
    import argparse

    from mtlflow.cli import _parser

    parser = _parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {action.dest}" for name, sub in commands.choices.items() for action in sub._actions
               if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []


def test_a_reader_that_leaves_early_is_not_an_error():
    """`mtlflow schema | head`: the closed pipe ends the command quietly, exit 0."""
    process = subprocess.Popen([sys.executable, "-m", "mtlflow", "schema"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the schema is written: the write fails
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and b"Traceback" not in stderr, stderr.decode()
