"""``examples/keras_fit.py`` runs as written (a notebook-style script, about a minute)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_keras_fit_example_runs():
    script = Path(__file__).resolve().parents[1] / "examples" / "keras_fit.py"
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "SavedModel outputs: {'intent': (3, 10), 'sentiment': (3, 3)}" in out.stdout
    pcgrad = next(line for line in out.stdout.splitlines() if line.startswith("PCGrad "))
    assert float(pcgrad.split("intent accuracy")[1].split()[0]) > 0.5  # 10 classes: chance 0.1
