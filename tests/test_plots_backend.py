"""The plots draw on ``matplotlib.figure.Figure``: a user's own backend and pyplot state stay as they were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CODE = """
import json, sys
import matplotlib
matplotlib.use("svg")  # the user's choice, not Agg
from mtlflow.evaluate.gates import plot_gates
from mtlflow.evaluate.plots import plot_history
epochs = [{"epoch": e, "train_loss": {"a": 1.0 / e, "b": 2.0 / e},
           "validation": {"a": {"accuracy": 0.5 + e / 10}, "joint": {"accuracy": 0.4}}} for e in (1, 2, 3)]
out = sys.argv[1]
plot_history({"epochs": epochs, "best_epoch": 2}, out + "/curves.png")
plot_gates({"tasks": {"a": {"e0": 0.7, "e1": 0.3}, "b": {"e0": 0.2, "e1": 0.8}}}, out + "/gates.png")
print(json.dumps({"backend": matplotlib.get_backend(), "pyplot": "matplotlib.pyplot" in sys.modules}))
"""


def test_plots_keep_the_callers_backend(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "MPLBACKEND": ""}
    out = subprocess.run([sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"backend": "svg", "pyplot": False}
    for name in ("curves.png", "gates.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
