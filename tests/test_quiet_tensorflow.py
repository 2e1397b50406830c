"""TensorFlow's start-up lines are filtered out of stderr; every other line passes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mtlflow.quiet_tensorflow import is_noise

ROOT = Path(__file__).resolve().parents[1]

NOISE = [
    "E0000 00:00:1796631930.359226   23249 util.cc:131] oneDNN supports DT_BOOL only on platforms with AVX-512. "
    "Falling back to the default Eigen-based implementation if present.",
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    "I0000 00:00:1796631449.480214   14247 port.cc:153] oneDNN custom operations are on. You may see slightly "
    "different numerical results due to floating-point round-off errors from different computation orders.",
    "I0000 00:00:1796631449.480528   14247 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
    "will not be used.",
    "E0000 00:00:1796631452.747312   14247 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA error: "
    "Failed call to cuInit: UNKNOWN ERROR (303)",
]
REAL = [
    "E0000 00:00:1796631452.747312   14247 op_kernel.cc:1830] OP_REQUIRES failed at strided_slice_op.cc:117 : "
    "INVALID_ARGUMENT: slice index 5 of dimension 0 out of bounds.",
    "F0000 00:00:1796631452.747312   14247 port.cc:12] Check failed: allocation succeeded",
    "mtlflow: config error: config.yaml: tasks[2].type: unknown task type 'multiklass'",
    "Traceback (most recent call last):",
]


@pytest.mark.parametrize("line", NOISE)
def test_known_start_up_lines_are_noise(line):
    assert is_noise(line)


@pytest.mark.parametrize("line", REAL)
def test_real_errors_are_not(line):
    assert not is_noise(line)


def test_the_filter_passes_every_other_line_of_descriptor_2():
    code = ("import os, sys\nfrom mtlflow.quiet_tensorflow import filtered_stderr\n"
            "with filtered_stderr():\n"
            "    for line in sys.argv[1:]:\n"
            "        os.write(2, (line + '\\n').encode())\n"
            "    print('python stderr', file=sys.stderr)\n"
            "print('after', file=sys.stderr)\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", code, *NOISE, *REAL], capture_output=True, text=True, env=env,
                         timeout=60)
    assert out.returncode == 0
    assert out.stderr.splitlines() == [*REAL, "python stderr", "after"]
