"""``mtlflow pipeline``: validate → transform → train → evaluate → gate → push, with cached stages.

Each stage reads the artifacts of the stages before it and writes its own into a folder
of the run directory; ``pipeline.json`` records, per stage, its status, inputs, outputs
(with content hashes), code version and timing. A stage whose fingerprint (its config
section, input and upstream hashes, code version) is unchanged and whose outputs are
intact is reused instead of run again, like a cached TFX component. In Python::

    from mtlflow.pipeline import run_pipeline

    result = run_pipeline("config.yaml", serving_dir="serving/nlu")
    result.blessed, result.pushed_version

Names are imported on first use, so ``import mtlflow.pipeline`` (and the CLI's parser)
does not load TensorFlow.
"""

from importlib import import_module

_EXPORTS = {
    # orchestration and record
    "run_pipeline": "mtlflow.pipeline.runner",
    "PipelineResult": "mtlflow.pipeline.runner",
    "STAGES": "mtlflow.pipeline.runner",
    "PipelineError": "mtlflow.pipeline.record",
    "PipelineRecord": "mtlflow.pipeline.record",
    "StageRecord": "mtlflow.pipeline.record",
    "code_version": "mtlflow.pipeline.fingerprint",
    "hash_path": "mtlflow.pipeline.fingerprint",
    # the blessing
    "Blessing": "mtlflow.pipeline.gate",
    "Check": "mtlflow.pipeline.gate",
    "bless": "mtlflow.pipeline.gate",
    "check_thresholds": "mtlflow.pipeline.gate",
    "LOWER_IS_BETTER": "mtlflow.pipeline.gate",
    # evaluation per slice
    "slice_metrics": "mtlflow.pipeline.slices",
    "slice_key": "mtlflow.pipeline.slices",
    "slices_markdown": "mtlflow.pipeline.slices",
    # push
    "push_model": "mtlflow.pipeline.push",
    "served_baseline": "mtlflow.pipeline.push",
    "find_pushed": "mtlflow.pipeline.push",
    # data validation
    "compute_statistics": "mtlflow.pipeline.statistics",
    "Schema": "mtlflow.pipeline.schema",
    "infer_schema": "mtlflow.pipeline.schema",
    "Anomaly": "mtlflow.pipeline.anomalies",
    "validate_table": "mtlflow.pipeline.anomalies",
    "format_anomalies": "mtlflow.pipeline.anomalies",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mtlflow.pipeline' has no attribute {name!r}")


def __dir__():
    return __all__
