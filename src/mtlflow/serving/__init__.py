"""Production serving of exported mtlflow models, compatible with TF Serving's APIs.

REST (``/v1/models/…``) and gRPC (``PredictionService``, ``ModelService``) over loaded
SavedModel signatures, with version policies and labels, hot swaps from a polled base
path, dynamic batching, an A/B split between labels, Prometheus metrics and drift
monitoring against the model card's reference distributions. ``mtlflow serve`` runs it
(:mod:`mtlflow.serving.cli`); in Python::

    from mtlflow.serving import ModelConfig, ModelServer, ServerOptions

    with ModelServer([ModelConfig("nlu", "runs/demo/export")], ServerOptions(enable_batching=True)) as server:
        ...
"""

from mtlflow.serving.ab import ABRouter
from mtlflow.serving.batching import Batcher
from mtlflow.serving.config_file import ModelConfig, load_model_config, parse_model_config
from mtlflow.serving.drift import DriftMonitor, psi
from mtlflow.serving.errors import ServingError
from mtlflow.serving.model_manager import ModelManager, VersionStatus
from mtlflow.serving.options import ServerOptions
from mtlflow.serving.servable import Servable
from mtlflow.serving.server import ModelServer
from mtlflow.serving.server_core import ServerCore
from mtlflow.serving.version_policy import VersionPolicy

__all__ = [
    "ABRouter", "Batcher", "DriftMonitor", "ModelConfig", "ModelManager", "ModelServer", "Servable",
    "ServerCore", "ServerOptions", "ServingError", "VersionPolicy", "VersionStatus", "load_model_config",
    "parse_model_config", "psi",
]
