"""The config layer imports neither TensorFlow nor Keras.

Every example config and shipped template is parsed (with each of its profiles) in a fresh
interpreter in which ``import tensorflow`` and ``import keras`` fail, so a config error or
``mtlflow schema`` never waits for TensorFlow to load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted([*ROOT.glob("examples/**/*.yaml"), *ROOT.glob("src/mtlflow/templates/*.yaml")])

BLOCKED = """
import json, sys
for name in ("tensorflow", "keras", "tf_keras", "keras_hub"):
    sys.modules[name] = None  # "import tensorflow" now raises ImportError
import yaml
from mtlflow.config import config_schema, load_config
parsed = []
for path in sys.argv[1:]:
    raw = yaml.safe_load(open(path, encoding="utf-8"))
    for profile in [None, *sorted(raw.get("profiles") or {})]:
        config = load_config(path, profile=profile)
        parsed.append([path, profile, [t.name for t in config.tasks]])
config_schema()
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras") and sys.modules[m] is not None)
print(json.dumps({"parsed": parsed, "loaded": loaded}))
"""


def test_every_example_config_parses_without_tensorflow():
    assert len(CONFIGS) >= 10, CONFIGS
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    out = subprocess.run([sys.executable, "-c", BLOCKED, *map(str, CONFIGS)], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["loaded"] == []
    assert {Path(p) for p, _, _ in result["parsed"]} == set(CONFIGS)
    assert all(tasks for _, _, tasks in result["parsed"])
