"""Production serving of exported mtlflow models, compatible with TF Serving's APIs.

REST (``/v1/models/…``, an ASGI application on uvicorn) and gRPC (``PredictionService``,
``ModelService``, health and reflection) over loaded SavedModel signatures, with version
policies and labels, hot swaps from a polled base path (failed loads retried, warm-up
records replayed), model config reloads, dynamic batching with a deadline, an A/B split
between labels, size limits checked before decoding, Prometheus metrics
(``prometheus-client``), a sampled request log and drift monitoring against the model
card's reference distributions. ``mtlflow serve`` runs it
(:mod:`mtlflow.serving.cli`); in Python::

    from mtlflow.serving import ModelConfig, ModelServer, ServerOptions

    with ModelServer([ModelConfig("nlu", "runs/demo/export")], ServerOptions(enable_batching=True)) as server:
        ...
"""

from importlib import import_module

# Names are imported on first use, so `mtlflow serve --help` (and the CLI's parser, which
# imports mtlflow.serving.cli) does not load TensorFlow.
_EXPORTS = {
    "ABRouter": "mtlflow.serving.ab",
    "Batcher": "mtlflow.serving.batching",
    "ModelConfig": "mtlflow.serving.config_file",
    "load_model_config": "mtlflow.serving.config_file",
    "parse_model_config": "mtlflow.serving.config_file",
    "DriftMonitor": "mtlflow.serving.drift",
    "psi": "mtlflow.serving.drift",
    "ServingError": "mtlflow.serving.errors",
    "ModelManager": "mtlflow.serving.model_manager",
    "VersionStatus": "mtlflow.serving.model_manager",
    "ServerOptions": "mtlflow.serving.options",
    "Servable": "mtlflow.serving.servable",
    "ModelServer": "mtlflow.serving.server",
    "RequestLog": "mtlflow.serving.request_log",
    "ServerCore": "mtlflow.serving.server_core",
    "VersionPolicy": "mtlflow.serving.version_policy",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mtlflow.serving' has no attribute {name!r}")


def __dir__():
    return __all__
