"""``MultiTaskModel.fit`` under ``MirroredStrategy`` (two logical CPUs, in a subprocess: the CPU
is split before TensorFlow starts) takes the same steps as on one device: the step all-reduces
the label counts, losses and gradients, so the masked means are over the global batch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("method", ["pcgrad", pytest.param("uncertainty", marks=pytest.mark.slow)])
def test_two_mirrored_devices_fit_the_same_weights_as_one(method):
    script = Path(__file__).parent / "scripts" / "keras_mirrored_equivalence.py"
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2 and result["moved"] > 0.1
    assert result["max_weight_difference"] < 1e-5, result
    for key, values in result["history_one"].items():
        assert values == pytest.approx(result["history_two"][key], rel=1e-5, abs=1e-6), key
    assert "cosine_topic_score" in result["history_two"]
