"""mtlflow: config-driven multi-task learning on TensorFlow 2 / Keras 3.

Build a multi-task model from a YAML config, train it with a compiled
``tf.GradientTape`` loop over masked per-task losses, evaluate every task, and
export one SavedModel that takes raw inputs and returns every task's outputs::

    import mtlflow
    run, metrics = mtlflow.train("config.yaml", out="runs/first")

Names are imported on first use, so ``import mtlflow`` stays light.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {
    "Config": "mtlflow.config",
    "load_config": "mtlflow.config",
    "parse_config": "mtlflow.config",
    "create_task": "mtlflow.tasks",
    "create_tasks": "mtlflow.api",
    "keras_losses": "mtlflow.api",
    "loss_weights": "mtlflow.api",
    "build_model": "mtlflow.model.build",
    "Vocabularies": "mtlflow.data.vocabulary",
    "Trainer": "mtlflow.train.trainer",
    "masked_mean": "mtlflow.ops.masked",
    "train": "mtlflow.run",
    "load_run": "mtlflow.run",
    "evaluate_run": "mtlflow.run",
    "export_run": "mtlflow.run",
    "MtlflowError": "mtlflow.errors",
    "ConfigError": "mtlflow.errors",
    "DataError": "mtlflow.errors",
    "TrainingError": "mtlflow.errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


_SUBPACKAGES = ("balance", "keras")  # mtlflow.keras.MultiTaskModel, mtlflow.balance.pcgrad()


def __getattr__(name: str):
    if name in _SUBPACKAGES:
        return import_module(f"mtlflow.{name}")
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mtlflow' has no attribute {name!r}")
