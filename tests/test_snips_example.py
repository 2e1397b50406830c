"""The SNIPS example config trains on the real JointBERT-format data (skipped without it)."""

from pathlib import Path

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "snips.yaml"
SNIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "snips"


@pytest.mark.skipif(not (SNIPS / "train" / "seq.in").is_file(),
                    reason=f"SNIPS data not found at {SNIPS} (the project's shared data folder)")
def test_snips_example_learns_in_two_epochs(tmp_path):
    from mtlflow.run import train

    config = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    for split in ("train", "validation", "test"):
        config["data"][split] = str((EXAMPLE.parent / config["data"][split]).resolve())
    config["training"].update(epochs=2, early_stopping=None)
    path = tmp_path / "snips.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    run, metrics = train(path, tmp_path / "run", verbose=False, export=False)
    assert metrics["intent"]["count"] == 700 and metrics["slots"]["count"] == 700
    assert metrics["intent"]["accuracy"] > 0.9   # 7 intents: chance ≈ 0.14
    assert metrics["slots"]["f1"] > 0.6
