"""The train, gate and push stages: thin, the work is in :mod:`mtlflow.run`, ``gate`` and ``push``."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mtlflow.evaluate.report import _write_atomic
from mtlflow.pipeline.context import PipelineContext, StageOutcome

TRAIN_OUTPUTS = ("config.yaml", "state.json", "vocab.json", "history.json", "checkpoints/best")


def train_stage(context: PipelineContext, out: Path) -> StageOutcome:
    """Trains with the transform stage's vocabularies and label inventories; exports nothing."""
    from mtlflow.run import train

    _, metrics = train(context.config_path, out, verbose=context.verbose, export=False,
                       profile=context.profile, transform=context.run_dir / "transform")
    history = json.loads((out / "history.json").read_text("utf-8"))
    epochs = len(history.get("epochs", []))
    best = history.get("best_epoch")
    return StageOutcome([out / name for name in TRAIN_OUTPUTS],
                        f"{epochs} epochs" + (f", best epoch {best} kept" if best else ""))


def baseline_inputs(context: PipelineContext) -> dict:
    """The served version the gate compares with, as a fingerprint input."""
    from mtlflow.pipeline.fingerprint import hash_path
    from mtlflow.pipeline.push import CARD, model_fingerprint, served_baseline

    served = served_baseline(context.serving_dir, model_fingerprint(context.run_dir / "train"))
    if served is None:
        return {"serving_dir": str(context.serving_dir), "baseline": None}
    return {"serving_dir": str(context.serving_dir),
            "baseline": {"version": served.version, "card_sha256": hash_path(served.path / CARD)}}


def gate_stage(context: PipelineContext, out: Path) -> StageOutcome:
    """Blesses the evaluated model, or not; writes ``blessing.json`` with every reason."""
    from mtlflow.pipeline.gate import bless
    from mtlflow.pipeline.push import model_fingerprint, served_baseline

    gate = context.config.pipeline.gate
    metrics = json.loads((context.run_dir / "evaluate" / "metrics.json").read_text("utf-8"))
    served = served_baseline(context.serving_dir, model_fingerprint(context.run_dir / "train"))
    label = f"served version {served.version}" if served else "the served version"
    blessing = bless(metrics, thresholds=gate.thresholds, tolerance=gate.tolerance,
                     baseline=served.metrics if served else None, baseline_label=label)
    if served is not None and served.metrics is None:
        blessing.notes.append(f"{label} ({served.path}) has no metrics in its model card: no regression check")
    record = blessing.to_json()
    record["baseline"] = None if served is None else {"version": served.version, "path": str(served.path),
                                                      "metrics": served.metrics}
    record["thresholds"], record["tolerance"] = dict(gate.thresholds), gate.tolerance
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "blessing.json", json.dumps(record, ensure_ascii=False, indent=1) + "\n")
    failures = len(blessing.failures)
    verdict = "blessed" if blessing.blessed else f"NOT blessed ({failures} check{'s' if failures != 1 else ''} failed)"
    return StageOutcome([out / "blessing.json"],
                        f"{verdict}: {len(blessing.checks)} checks" + (f" against {label}" if served else ""))


def push_stage(context: PipelineContext, out: Path) -> StageOutcome:
    """Exports a blessed model as the next version of the serving directory (once)."""
    from mtlflow.pipeline.fingerprint import code_version
    from mtlflow.pipeline.push import find_pushed, model_fingerprint, push_model

    blessing = json.loads((context.run_dir / "gate" / "blessing.json").read_text("utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    report = out / "pushed.json"
    if not blessing["blessed"]:
        _write_atomic(report, json.dumps({"pushed": False, "reason": "not blessed",
                                          "serving_dir": str(context.serving_dir)}, indent=1) + "\n")
        return StageOutcome([report], f"not blessed: nothing written to {context.serving_dir}", status="skipped")
    model = model_fingerprint(context.run_dir / "train")
    existing = find_pushed(context.serving_dir, model)
    if existing is not None:
        _write_atomic(report, json.dumps({"pushed": False, "reason": "already pushed", "version": existing.version,
                                          "path": str(existing.path), "model": model}, indent=1) + "\n")
        return StageOutcome([report], f"this model is already version {existing.version} in {context.serving_dir}; "
                            "not pushing a duplicate", status="cached")
    metrics = json.loads((context.run_dir / "evaluate" / "metrics.json").read_text("utf-8"))
    provenance = {"model": model, "run_dir": str(context.run_dir.resolve()), "config": str(context.config_path),
                  "profile": context.profile, "pushed_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                  "code_version": code_version(), "blessing": blessing["reasons"]}
    path = push_model(context.run_dir / "train", context.serving_dir, metrics, provenance)
    _write_atomic(report, json.dumps({"pushed": True, "version": int(path.name), "path": str(path),
                                      "model": model}, indent=1) + "\n")
    return StageOutcome([report], f"pushed as version {path.name}: {path}")


def push_still_valid(context: PipelineContext, out: Path) -> bool:
    """A recorded push stands only while its version is still in the serving directory."""
    from mtlflow.pipeline.push import find_pushed

    try:
        report = json.loads((out / "pushed.json").read_text("utf-8"))
    except (OSError, ValueError):
        return False
    if "model" not in report:
        return True
    return find_pushed(context.serving_dir, report["model"]) is not None
