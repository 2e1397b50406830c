"""What training prints: a progress bar on terminals only, and the early-stopping line."""

from __future__ import annotations

import io
import re

import pytest

from conftest import write_synthetic_project
from mtlflow.train.progress import Progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_shows_steps_examples_per_second_eta_and_running_losses():
    stream = Terminal()
    progress = Progress(10, "epoch 1/3", stream=stream, examples_per_step=32)
    progress.began -= 2.0  # two seconds in
    progress.last -= 1.0
    progress.update(4, {"intent": 0.51234, "slots": 1.25})
    text = stream.getvalue()
    assert re.search(r"epoch 1/3 \[########\.{12}\] 4/10 \d+ ex/s eta \d+s - intent=0\.5123 slots=1\.2500", text), text
    rate = int(re.search(r"(\d+) ex/s", text).group(1))
    assert 55 <= rate <= 64  # 4 steps × 32 examples in a little over 2 s
    progress.close()
    assert stream.getvalue().endswith("\r")


def test_the_progress_bar_is_silent_when_stdout_is_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(10, "epoch 1/3", stream=stream, examples_per_step=32)
    progress.began -= 2.0
    progress.last -= 1.0
    progress.update(4, {"intent": 0.5})
    progress.close()
    assert stream.getvalue() == ""


def test_early_stopping_says_where_it_stopped_and_which_weights_are_used(tmp_path, capsys):
    from mtlflow.data.dataset import SplitData  # noqa: F401  (TensorFlow loads here, not at collection)
    from mtlflow.run import train

    config = write_synthetic_project(tmp_path / "p", n_train=120, epochs=4)
    # min_delta 100: epoch 1 sets the best, epoch 2 cannot beat it by 100, patience 1 stops there
    run, metrics = train(config, tmp_path / "run", verbose=True, export=False,
                         overrides=["training.early_stopping.patience=1", "training.early_stopping.min_delta=100"])
    out = capsys.readouterr().out
    trainer = run.trainer
    lines = [line for line in out.splitlines() if line.startswith("early stopping:")]
    assert len(lines) == 1, out
    best = re.search(r"best loss (\d+\.\d+) at epoch 1", lines[0])
    assert lines[0].startswith("early stopping: stopped at epoch 2 (loss did not improve for 1 epoch); "), lines[0]
    assert best and lines[0].endswith("the test metrics use epoch 1's weights"), lines[0]
    # the kept weights are epoch 1's: the validation loss now is epoch 1's validation loss
    import json

    epochs = json.loads((tmp_path / "run" / "history.json").read_text("utf-8"))["epochs"]
    assert len(epochs) == 2
    assert float(best.group(1)) == pytest.approx(epochs[0]["validation"]["joint"]["loss"], abs=1e-4)
    again = trainer.evaluator.evaluate(run.split_data(_validation(run)).batches(32))
    assert again["joint"]["loss"] == pytest.approx(epochs[0]["validation"]["joint"]["loss"], rel=1e-5)


def _validation(run):
    from mtlflow.run import read_split

    return read_split(run.config, run.config.data.validation, run.tasks, "validation")
