"""A run killed at any moment resumes with every epoch in its history, and its files stay readable.

The fast tests interrupt training in-process right after the second epoch's checkpoint;
the slow one kills a real ``mtlflow train`` with SIGKILL at that point.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import write_jsonl
from mtlflow.errors import MtlflowError, TrainingError
from mtlflow.run import load_run, train

CONFIG = """
data: {{format: jsonl, train: train.jsonl, validation: validation.jsonl, test: test.jsonl}}
inputs: {{numeric: [x, y]}}
encoder: {{mlp: [8]}}
tasks: [{{name: side, type: multiclass}}]
training: {{epochs: {epochs}, batch_size: 32, learning_rate: 0.01, seed: 3, early_stopping: null}}
"""


def _rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = [{"x": rng.uniform(-1, 1), "y": rng.uniform(-1, 1)} for _ in range(n)]
    return [{**r, "side": "left" if r["x"] < 0 else "right"} for r in rows]


def _project(directory: Path, epochs: int = 3, n_train: int = 60) -> Path:
    """A tiny model (two numbers → an MLP → one class): the run directory is what is tested."""
    directory.mkdir(parents=True, exist_ok=True)
    write_jsonl(_rows(n_train, seed=1), directory / "train.jsonl")
    write_jsonl(_rows(20, seed=2), directory / "validation.jsonl")
    write_jsonl(_rows(20, seed=3), directory / "test.jsonl")
    (directory / "config.yaml").write_text(CONFIG.format(epochs=epochs), "utf-8")
    return directory / "config.yaml"


class Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)


def _epochs(run_dir: Path) -> list[int]:
    return [e["epoch"] for e in json.loads((run_dir / "history.json").read_text("utf-8"))["epochs"]]


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """A 3-epoch run stopped dead right after epoch 2's checkpoint, with staging leftovers planted."""
    from mtlflow.train.trainer import Trainer

    root = tmp_path_factory.mktemp("crash")
    config = _project(root / "project")
    run_dir = root / "run"
    original = Trainer._save_last

    def save_then_die(self):
        original(self)
        if int(self.epoch.numpy()) == 2:
            raise Killed

    Trainer._save_last = save_then_die
    try:
        with pytest.raises(Killed):
            train(config, run_dir, verbose=False)
    finally:
        Trainer._save_last = original
    history = json.loads((run_dir / "history.json").read_text("utf-8"))
    after_crash = {"epochs": _epochs(run_dir), "complete": history["complete"]}
    (run_dir / "checkpoints" / "last" / "ckpt-3_temp").mkdir()
    (run_dir / "checkpoints" / "last" / "ckpt-3_temp" / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"x")
    (run_dir / "export").mkdir(exist_ok=True)
    abandoned = run_dir / "export" / f".tmp-{_dead_pid()}-0123abcd"
    abandoned.mkdir()
    return config, run_dir, after_crash, abandoned


def test_history_is_on_disk_after_every_epoch(interrupted):
    _, run_dir, after_crash, _ = interrupted
    assert after_crash == {"epochs": [1, 2], "complete": False}


def test_resume_says_where_it_resumes_and_ends_with_every_epoch(interrupted, capsys):
    config, run_dir, _, abandoned = interrupted
    train(config, run_dir, resume=True)
    out = capsys.readouterr().out
    assert "at epoch 3 of 3, after step 4" in out  # 60 rows / batch 32 = 2 steps per epoch
    assert "removed checkpoints/last/ckpt-3_temp" in out and f"removed export/{abandoned.name}" in out
    assert not abandoned.exists() and not (run_dir / "checkpoints" / "last" / "ckpt-3_temp").exists()
    history = json.loads((run_dir / "history.json").read_text("utf-8"))
    assert [e["epoch"] for e in history["epochs"]] == [1, 2, 3]
    assert history["resumed_from_epoch"] == 2 and history["complete"] is True
    assert (run_dir / "training_curves.png").stat().st_size > 0
    assert sorted(p.name for p in (run_dir / "export").iterdir() if not p.name.startswith(".")) == ["1"]
    assert not [p for p in run_dir.rglob("*.tmp-*")]  # no temporary file of an atomic write left over


def test_resuming_a_finished_run_says_nothing_is_left_and_exports_nothing(interrupted, capsys):
    config, run_dir, _, _ = interrupted
    before = sorted(p.name for p in (run_dir / "export").iterdir())
    run, metrics = train(config, run_dir, resume=True)
    out = capsys.readouterr().out
    assert "nothing left to train" in out and "trained all 3 epochs" in out and "raise training.epochs" in out
    assert sorted(p.name for p in (run_dir / "export").iterdir()) == before
    assert metrics == json.loads((run_dir / "metrics.json").read_text("utf-8"))
    assert _epochs(run_dir) == [1, 2, 3]


@pytest.mark.parametrize("name", ["state.json", "vocab.json"])
def test_a_damaged_run_file_names_the_file(interrupted, tmp_path, name):
    import shutil

    _, run_dir, _, _ = interrupted
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    text = (copy / name).read_text("utf-8")
    (copy / name).write_text(text[: len(text) // 2], "utf-8")
    with pytest.raises(MtlflowError) as error:
        load_run(copy)
    message = str(error.value)
    assert str(copy / name) in message and "not valid JSON" in message and "train the run again" in message
    assert "JSONDecodeError" not in message


def test_a_damaged_history_stops_resume_with_the_file_name(interrupted, tmp_path):
    import shutil

    config, run_dir, _, _ = interrupted
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "history.json").write_text('{"epochs": [{"epoch": 1', "utf-8")
    with pytest.raises(MtlflowError, match=r"history\.json: not valid JSON .* at the end of the file .*delete it"):
        train(config, copy, resume=True, verbose=False)


def test_divergence_in_the_first_epoch_says_no_checkpoint_exists(tmp_path):
    directory = tmp_path / "project"
    directory.mkdir()
    rows = [{**row, "value": 1e30} for row in _rows(40, seed=4)]  # (1e30)² overflows float32
    for split in ("train", "validation"):
        write_jsonl(rows, directory / f"{split}.jsonl")
    (directory / "config.yaml").write_text(
        "data: {train: train.jsonl, validation: validation.jsonl}\n"
        "inputs: {numeric: [x, y]}\n"
        "encoder: {mlp: [4]}\n"
        "tasks: [{name: value, type: regression, normalize: false}]\n"
        "training: {epochs: 2, batch_size: 20}\n", "utf-8")
    with pytest.raises(TrainingError) as error:
        train(directory / "config.yaml", tmp_path / "run", verbose=False)
    message = str(error.value)
    assert "epoch 1" in message and "no checkpoint was saved yet" in message
    assert "Lower training.learning_rate" in message
    assert "kept in" not in message


@pytest.mark.slow
def test_kill_9_after_the_second_checkpoint_then_resume_keeps_every_epoch(tmp_path):
    """A real ``mtlflow train`` killed with SIGKILL once epoch 2's checkpoint is on disk."""
    config = _project(tmp_path / "project", epochs=5, n_train=20000)  # epochs of seconds: time to kill
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    command = [sys.executable, "-m", "mtlflow", "train", str(config), "--out", str(run_dir)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = run_dir / "checkpoints" / "last" / "ckpt-2.index"
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, f"training ended before it could be killed: {process.stderr.read()[-2000:]}"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _epochs(run_dir)[:2] == [1, 2]
    resumed = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "mtlflow: resuming" in resumed.stdout and "of 5, after step" in resumed.stdout
    assert _epochs(run_dir) == [1, 2, 3, 4, 5]
    assert json.loads((run_dir / "history.json").read_text())["complete"] is True
