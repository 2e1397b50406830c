"""Runs the stages in order, reusing the ones whose inputs have not changed.

Stages and what each keys on (besides the code version and the profile):

============  ==========================================  ===========================
stage         config it reads                             inputs / upstream
============  ==========================================  ===========================
validate      data, inputs, tasks, pipeline.validation,   every split's file, the
              pipeline.slices                             pinned schema file
transform     data, inputs, tasks, training.seed          train file; validate
train         data, inputs, encoder, sharing, tasks,      every split's file; transform
              training
evaluate      data, inputs, tasks, training.batch_size,   evaluation file; train
              pipeline.slices, pipeline.min_slice_examples
gate          pipeline.gate                               the served baseline's card;
                                                          train, evaluate
push          (the serving directory)                     train, evaluate, gate
============  ==========================================  ===========================

A stage is *cached* when its fingerprint equals the one recorded in ``pipeline.json``
and every output it recorded is still there with the same hash; otherwise it runs,
into a hidden folder renamed over ``RUN/<stage>/`` when it succeeds (nothing half
written). Downstream stages key on their upstream outputs' hashes, so a config change
re-runs from the first stage it affects. Push is never cached into a new version: a
model already in the serving directory is not pushed again.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

from mtlflow.errors import MtlflowError
from mtlflow.pipeline.context import PipelineContext, StageOutcome
from mtlflow.pipeline.fingerprint import code_version, hash_json, hash_path
from mtlflow.pipeline.record import PipelineError, PipelineRecord, StageRecord


class Stage(NamedTuple):
    """One stage: its name, the config it reads, its input files, upstream stages and body."""

    name: str
    config: Callable[[object], dict]  # Config -> the sections it reads
    files: Callable[[PipelineContext], dict[str, str | Path | None]]
    upstream: tuple[str, ...]
    run: Callable[[PipelineContext, Path], StageOutcome]
    extra_inputs: Callable[[PipelineContext], dict] | None = None
    still_valid: Callable[[PipelineContext, Path], bool] | None = None


def _dump(value) -> object:
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def _sections(*names: str) -> Callable[[object], dict]:
    """The config sections (dotted paths, e.g. ``training.seed``) a stage reads."""

    def pick(config) -> dict:
        out = {}
        for name in names:
            value = config
            for part in name.split("."):
                value = getattr(value, part)
            out[name] = _dump(value) if not isinstance(value, list) else [_dump(v) for v in value]
        return out

    return pick


def _split_files(context: PipelineContext) -> dict[str, str]:
    return dict(context.splits())


def _validate_files(context: PipelineContext) -> dict:
    from mtlflow.pipeline.validate import schema_path

    return {**_split_files(context), "schema_file": schema_path(context)}


def _stages() -> list[Stage]:
    from mtlflow.pipeline.evaluate import evaluate_stage
    from mtlflow.pipeline.stages import baseline_inputs, gate_stage, push_stage, push_still_valid, train_stage
    from mtlflow.pipeline.transform import transform_stage
    from mtlflow.pipeline.validate import validate_stage

    return [
        Stage("validate", _sections("data", "inputs", "tasks", "pipeline.validation", "pipeline.slices"),
              _validate_files, (), validate_stage),
        Stage("transform", _sections("data", "inputs", "tasks", "training.seed"),
              lambda c: {"train": c.config.data.train}, ("validate",), transform_stage),
        Stage("train", _sections("data", "inputs", "encoder", "sharing", "tasks", "training"),
              _split_files, ("transform",), train_stage),
        Stage("evaluate", _sections("data", "inputs", "tasks", "training.batch_size", "pipeline.slices",
                                    "pipeline.min_slice_examples"),
              lambda c: {"evaluation": c.evaluation_split()[1] or c.config.data.train}, ("train",), evaluate_stage),
        Stage("gate", _sections("pipeline.gate"), lambda c: {}, ("train", "evaluate"), gate_stage,
              extra_inputs=baseline_inputs),
        Stage("push", lambda config: {}, lambda c: {}, ("train", "evaluate", "gate"), push_stage,
              extra_inputs=lambda c: {"serving_dir": str(c.serving_dir)}, still_valid=push_still_valid),
    ]


STAGES = ("validate", "transform", "train", "evaluate", "gate", "push")


@dataclass
class PipelineResult:
    """What a pipeline run ended with.

    Attributes:
      run_dir: the run directory (``pipeline.json`` and one folder per stage).
      statuses: ``{stage: ran | cached | failed | skipped}``.
      blessed: the gate's verdict (None if the gate did not run).
      pushed_version: the version pushed by this run (None: nothing new was pushed).
      served_version: the version holding this model in the serving directory, if any.
      reasons: every reason of the blessing.
    """

    run_dir: Path
    statuses: dict[str, str] = field(default_factory=dict)
    blessed: bool | None = None
    pushed_version: int | None = None
    served_version: int | None = None
    reasons: list[str] = field(default_factory=list)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _load_context(config_path: Path, run_dir: Path | None, serving_dir: str | Path, profile: str | None,
                  verbose: bool) -> PipelineContext:
    from mtlflow.config import load_config
    from mtlflow.pipeline.gate import check_thresholds
    from mtlflow.run import absolute_config

    config = absolute_config(load_config(config_path, profile), config_path.parent)
    reported = {t.name: (*(t.metrics or t.metric_names), "loss") for t in config.tasks}
    check_thresholds(config.pipeline.gate.thresholds, reported, str(config_path))
    run_dir = Path(run_dir) if run_dir else Path("runs") / f"pipeline-{config_path.stem}"
    return PipelineContext(config_path, config, profile, run_dir, Path(serving_dir), verbose)


def run_pipeline(config_path: str | Path, serving_dir: str | Path, out: str | Path | None = None, *,
                 profile: str | None = None, verbose: bool = True, use_cache: bool = True) -> PipelineResult:
    """validate → transform → train → evaluate → gate → push; see the module docstring.

    Args:
      config_path: the YAML config.
      serving_dir: the model's base path; a blessed model becomes its next version.
      out: the run directory (default ``runs/pipeline-<config stem>``).
      profile: a ``profiles`` entry of the config to apply.
      verbose: print training progress and the reports (stage lines are always printed).
      use_cache: False runs every stage again (a model already served is still not pushed twice).

    Returns:
      A :class:`PipelineResult`. Raises :class:`PipelineError` naming the failed stage
      (and its report) when one fails; ``pipeline.json`` records it either way.
    """
    began = time.perf_counter()
    config_path = Path(config_path)
    context = _load_context(config_path, Path(out) if out else None, serving_dir, profile, verbose)
    run_dir = context.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    code = code_version()
    previous = PipelineRecord.previous_stages(run_dir) if use_cache else {}
    record = PipelineRecord(str(config_path), hash_json(context.config.model_dump(mode="json")), profile,
                            str(context.serving_dir), code, _now())
    result = PipelineResult(run_dir)
    context.log(f"mtlflow pipeline: {config_path} → {run_dir} (serving dir {context.serving_dir}; "
                f"code {code['mtlflow']} {code['revision']})")
    stages = _stages()
    failed: str | None = None
    error: PipelineError | None = None
    for number, stage in enumerate(stages, 1):
        tag = f"[{number}/{len(stages)}] {stage.name}"
        last_good = asdict(previous[stage.name]) if stage.name in previous else None
        if failed is not None:
            record.stages[stage.name] = StageRecord(stage.name, "skipped", message=f"not run: {failed} failed",
                                                    last_good=last_good)
            continue
        context.log(f"mtlflow pipeline: {tag} ...")
        stage_record, error = _run_stage(context, stage, record, previous.get(stage.name), code)
        if not stage_record.finished():
            stage_record.last_good = last_good
        record.stages[stage.name] = stage_record
        record.save(run_dir)
        made = f"outputs of {stage_record.reused_from}: " if stage_record.reused_from else ""
        context.log(f"mtlflow pipeline: {tag}: {stage_record.status} in {stage_record.seconds:.1f}s"
                    + (f" — {made}{stage_record.message}" if error is None else ""))
        if stage_record.status == "failed":
            failed = stage.name
    record.seconds = round(time.perf_counter() - began, 3)
    result.statuses = {name: s.status for name, s in record.stages.items()}
    _summarise(context, result)
    record.result = {"blessed": result.blessed, "pushed_version": result.pushed_version,
                     "served_version": result.served_version, "failed_stage": failed}
    record.save(run_dir)
    if error is not None:
        raise error
    return result


def _run_stage(context: PipelineContext, stage: Stage, record: PipelineRecord, previous: StageRecord | None,
               code: dict) -> tuple[StageRecord, PipelineError | None]:
    """Runs (or reuses) one stage; returns its record and, if it failed, the error to raise."""
    run_dir = context.run_dir
    started, began = _now(), time.perf_counter()
    files = {label: str(Path(p)) for label, p in stage.files(context).items() if p is not None}
    inputs = {
        "config_hash": hash_json(stage.config(context.config)),
        "profile": context.profile,
        "files": {label: {"path": path, "sha256": hash_path(path)} for label, path in files.items()},
        "upstream": {name: record.stages[name].outputs_hash() for name in stage.upstream},
        **(stage.extra_inputs(context) if stage.extra_inputs else {}),
    }
    fingerprint = hash_json({"stage": stage.name, "inputs": inputs, "code": code})
    out = run_dir / stage.name
    if previous is not None and previous.reusable(fingerprint, run_dir) and (
            stage.still_valid is None or stage.still_valid(context, out)):
        return StageRecord(stage.name, "cached", fingerprint, started, round(time.perf_counter() - began, 3),
                           inputs, previous.outputs, code, previous.message,
                           previous.reused_from or previous.started), None
    staging = run_dir / f".{stage.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        outcome = stage.run(context, staging)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        seconds = round(time.perf_counter() - began, 3)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        failed = StageRecord(stage.name, "failed", fingerprint, started, seconds, inputs, {}, code,
                             f"{type(exc).__name__}: {first}", last_good=asdict(previous) if previous else None)
        record.stages[stage.name] = failed
        record.save(run_dir)
        if not isinstance(exc, MtlflowError):
            raise
        return failed, PipelineError(f"stage {stage.name!r} failed: {exc} (record: {run_dir / 'pipeline.json'})",
                                     exc.exit_code)
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    outputs = {}
    for path in outcome.outputs:
        relative = Path(stage.name) / Path(path).relative_to(staging)
        outputs[relative.as_posix()] = hash_path(run_dir / relative)
    seconds = round(time.perf_counter() - began, 3)
    status = "failed" if outcome.failure else outcome.status
    stage_record = StageRecord(stage.name, status, fingerprint, started, seconds, inputs, outputs, code,
                               outcome.failure or outcome.message)
    error = PipelineError(f"stage {stage.name!r} failed: {outcome.failure}", 2) if outcome.failure else None
    return stage_record, error


def _summarise(context: PipelineContext, result: PipelineResult) -> None:
    """Reads the blessing and the push report into ``result`` and prints them."""
    import json

    blessing_path = context.run_dir / "gate" / "blessing.json"
    if result.statuses.get("gate") in ("ran", "cached") and blessing_path.is_file():
        blessing = json.loads(blessing_path.read_text("utf-8"))
        result.blessed, result.reasons = bool(blessing["blessed"]), list(blessing["reasons"])
        context.log(f"mtlflow pipeline: {'blessed' if result.blessed else 'NOT blessed'} ({blessing_path}):")
        for reason in result.reasons:
            context.log(f"  {reason}")
    pushed_path = context.run_dir / "push" / "pushed.json"
    if result.statuses.get("push") in ("ran", "cached", "skipped") and pushed_path.is_file():
        pushed = json.loads(pushed_path.read_text("utf-8"))
        result.served_version = pushed.get("version")
        if pushed.get("pushed") and result.statuses["push"] == "ran":
            result.pushed_version = pushed["version"]
            context.log(f"mtlflow pipeline: pushed version {pushed['version']} to {context.serving_dir}")
        elif pushed.get("version") is not None:
            context.log(f"mtlflow pipeline: this model is already version {pushed['version']} in "
                        f"{context.serving_dir}; nothing pushed")
        else:
            context.log(f"mtlflow pipeline: nothing pushed; {context.serving_dir} is unchanged")
