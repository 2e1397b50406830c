"""The validate stage: statistics of every split, a schema, and the anomalies against it.

Writes ``statistics/<split>.json`` (:func:`~mtlflow.pipeline.statistics.compute_statistics`),
``schema.json`` (inferred from train, or the reviewed one named by
``pipeline.validation.schema_file``, relative to the config file) and ``anomalies.json``
(:func:`~mtlflow.pipeline.anomalies.validate_table` per split), and prints the report.
Under ``pipeline.validation.on_anomaly: fail`` an error-level anomaly stops the pipeline
here, before any training. It also checks that every ``pipeline.slices`` column is in the
evaluation split, so a typo fails now rather than after training.
"""

from __future__ import annotations

import json
from pathlib import Path

from mtlflow.config import resolve
from mtlflow.errors import ConfigError
from mtlflow.evaluate.report import _write_atomic
from mtlflow.pipeline.context import PipelineContext, StageOutcome


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def schema_path(context: PipelineContext) -> Path | None:
    """The pinned schema file, if ``pipeline.validation.schema_file`` names one."""
    name = context.config.pipeline.validation.schema_file
    return resolve(context.config_path.parent, name) if name else None


def validate_stage(context: PipelineContext, out: Path) -> StageOutcome:
    from mtlflow.pipeline.anomalies import format_anomalies, validate_table
    from mtlflow.pipeline.schema import Schema, infer_schema
    from mtlflow.pipeline.statistics import compute_statistics
    from mtlflow.run import read_config_table

    config = context.config
    tables = {split: read_config_table(config, path) for split, path in context.splits().items()}
    statistics = {split: compute_statistics(table, config) for split, table in tables.items()}
    outputs = []
    for split, stats in statistics.items():
        path = out / "statistics" / f"{split}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(stats, ensure_ascii=False, indent=1) + "\n")
    outputs.append(out / "statistics")

    pinned = schema_path(context)
    schema = Schema.load(pinned) if pinned else infer_schema(tables["train"], config, statistics["train"])
    outputs.append(schema.save(out / "schema.json"))

    anomalies = []
    for split, table in tables.items():
        anomalies += validate_table(table, schema, config, split, statistics=statistics[split],
                                    train_statistics=statistics["train"] if split != "train" else None)
    errors = [a for a in anomalies if a.severity == "error"]
    report = out / "anomalies.json"
    _write_atomic(report, json.dumps({
        "schema": str(pinned) if pinned else "inferred from train",
        "errors": len(errors),
        "warnings": len(anomalies) - len(errors),
        "anomalies": [a.to_json() for a in anomalies],
    }, ensure_ascii=False, indent=1) + "\n")
    outputs.append(report)
    if anomalies:
        context.detail(format_anomalies(anomalies))
    _check_slice_columns(context, tables)

    against = f"schema {pinned}" if pinned else "the inferred schema"
    summary = (f"{_plural(len(tables), 'split')} against {against}: "
               f"{_plural(len(errors), 'error')}, {_plural(len(anomalies) - len(errors), 'warning')}")
    failure = None
    if errors and config.pipeline.validation.on_anomaly == "fail":
        first = errors[0]
        failure = (f"{_plural(len(errors), 'error-level anomaly', 'error-level anomalies')} in the data "
                   f"(first: {first.kind}: {first.message}); report: "
                   f"{context.run_dir / 'validate' / 'anomalies.json'}. Fix the data, or set "
                   "pipeline.validation.on_anomaly: warn to report and go on")
    return StageOutcome(outputs, summary, failure)


def _check_slice_columns(context: PipelineContext, tables: dict) -> None:
    """Every ``pipeline.slices`` column must be a column of the evaluation data."""
    name, path = context.evaluation_split()
    table = tables[name] if path else tables["train"]
    for i, column in enumerate(context.config.pipeline.slices):
        if column not in table.columns:
            shown = ", ".join(table.columns[:20]) + (", ..." if len(table.columns) > 20 else "")
            raise ConfigError(f"{context.config_path}: pipeline.slices[{i}]: column {column!r} is not in "
                              f"{table.source} (columns: {shown})")
