"""The collectives of a training step under ``tf.distribute``: an ordinary step all-reduces
the label counts, the losses and each gradient once — no per-task gradient matrix, no
second sum inside the Keras optimizer — and a diagnostics step adds only the matrix."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_trainer_balance import project


@pytest.fixture(scope="module")
def collectives(tmp_path_factory):
    path = project(tmp_path_factory.mktemp("collectives"), {"diagnostics_every": 4}, n_train=64,
                   tasks=["topic", "flag"])
    script = Path(__file__).parent / "scripts" / "step_collectives.py"
    out = subprocess.run([sys.executable, str(script), str(path), "sparse"], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_an_ordinary_step_reduces_counts_losses_and_each_gradient_once(collectives):
    calls, tasks = collectives["ordinary"], len(collectives["tasks"])
    assert [len(c) for c in calls] == [1, 1, len(collectives["variables"])], calls
    assert calls[0][0]["shape"] == [tasks] and calls[1][0]["shape"] == [tasks]
    gradients = calls[2]
    # the embedding table's gradient travels as rows (sparse), the others dense, each once
    assert sum(g["sparse"] for g in gradients) >= 1
    assert all(g["shape"] == v for g, v in zip(gradients, collectives["variables"]) if not g["sparse"])


def test_a_diagnostics_step_adds_one_all_reduce_of_the_task_gradients(collectives):
    first, tasks = collectives["first"], len(collectives["tasks"])
    matrices = [c for c in first if c == [{"sparse": False, "shape": [tasks, collectives["shared_size"]]}]]
    assert len(first) == 4 and len(matrices) == 1, first
    assert not any(c == matrices[0] for c in collectives["ordinary"])
