"""The evaluate stage: the trained model's metrics on the evaluation split, overall and per slice.

The evaluation split is the test file if the config gives one, else the validation
file, else the seeded hold-out of train (the one training validated on). Metrics come
from :class:`~mtlflow.evaluate.evaluator.Evaluator`, the trainer's own, so they are the
numbers ``mtlflow evaluate`` reports. For each ``pipeline.slices`` column the split is
cut by that column's raw value (:mod:`mtlflow.pipeline.slices`) and every slice of at
least ``pipeline.min_slice_examples`` examples is evaluated on its own.

Writes ``metrics.json``/``metrics.md``, ``slices.json``/``slices.md`` and
``evaluation.json`` (which split, how many examples).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mtlflow.errors import ConfigError
from mtlflow.evaluate.report import _write_atomic, json_safe
from mtlflow.pipeline.context import PipelineContext, StageOutcome


def subset(split, index: np.ndarray, name: str | None = None):
    """The examples of an :class:`~mtlflow.data.encode.EncodedSplit` at ``index``."""
    from mtlflow.data.encode import EncodedSplit

    return EncodedSplit(
        name=name or split.name,
        features={k: v[index] for k, v in split.features.items()},
        labels={k: ([v[i] for i in index] if isinstance(v, list) else v[index]) for k, v in split.labels.items()},
        masks={k: v[index] for k, v in split.masks.items()},
        locations=[split.locations[i] for i in index],
        issues={},
        unseen=split.unseen.subset(index),
    )


def _evaluate_subset(evaluator, run, split, batch_size: int) -> dict:
    return evaluator.evaluate(run.split_data(split).batches(batch_size), split.unseen)


def evaluation_data(context: PipelineContext, tasks: dict):
    """``(name, raw table, encoded split)`` of the split the model is judged on."""
    from mtlflow.data.encode import encode_table
    from mtlflow.run import _holdout, read_config_table

    config = context.config
    name, path = context.evaluation_split()
    if path is not None:
        table = read_config_table(config, path)
        return name, table, encode_table(table, config, tasks, "evaluation")
    if config.data.validation_split <= 0:
        raise ConfigError(f"{context.config_path}: data: no evaluation data (no test or validation file and "
                          "validation_split is 0); give data.test or data.validation")
    table = read_config_table(config, config.data.train)
    train_split = encode_table(table, config, tasks, "train")
    return name, table, _holdout(train_split, config.data.validation_split, config.training.seed)[1]


def evaluate_stage(context: PipelineContext, out: Path) -> StageOutcome:
    from mtlflow.evaluate.evaluator import Evaluator
    from mtlflow.evaluate.report import write_metrics
    from mtlflow.pipeline.slices import headline, slice_metrics, slices_markdown
    from mtlflow.run import load_run

    config = context.config
    run = load_run(context.run_dir / "train")
    name, table, split = evaluation_data(context, run.tasks)
    batch_size = config.training.batch_size
    evaluator = Evaluator(run.model, run.tasks, {n: t.spec.weight for n, t in run.tasks.items()})
    metrics = evaluator.evaluate(run.split_data(split).batches(batch_size), split.unseen)
    out.mkdir(parents=True, exist_ok=True)
    outputs = list(write_metrics(metrics, out))

    rows = dict(zip(table.locations, table.rows))
    minimum = config.pipeline.min_slice_examples
    slices = {}
    for column in config.pipeline.slices:
        values = [rows[location].get(column) for location in split.locations]
        slices[column] = slice_metrics(
            values, lambda index: _evaluate_subset(evaluator, run, subset(split, index), batch_size), minimum)
    _write_atomic(out / "slices.json", json.dumps(json_safe(slices), ensure_ascii=False, indent=1) + "\n")
    _write_atomic(out / "slices.md", slices_markdown(slices, minimum) if slices else "no pipeline.slices configured\n")
    _write_atomic(out / "evaluation.json", json.dumps(
        {"split": name, "path": context.evaluation_split()[1], "examples": len(split),
         "slices": {c: len(s) for c, s in slices.items()}}, ensure_ascii=False, indent=1) + "\n")
    outputs += [out / "slices.json", out / "slices.md", out / "evaluation.json"]

    parts = []
    for task, task_metrics in metrics.items():
        found = headline(task_metrics) if task != "joint" else ("accuracy", task_metrics.get("accuracy"))
        if found and isinstance(found[1], float):
            parts.append(f"{task}.{found[0]} {found[1]:.4f}")
    small = sum(1 for s in slices.values() for m in s.values() if m.get("too_few"))
    message = (f"{len(split)} {name} examples: {', '.join(parts)}"
               + (f"; {sum(len(s) for s in slices.values())} slices over {', '.join(slices)}"
                  + (f" ({small} with fewer than {minimum} examples)" if small else "") if slices else ""))
    return StageOutcome(outputs, message)
