"""Small helpers for using mtlflow models from plain Keras code."""

from __future__ import annotations

from mtlflow.config import Config
from mtlflow.tasks import Task, create_task


def create_tasks(config: Config, labels: dict[str, list[str]] | None = None) -> dict[str, Task]:
    """``{name: Task}`` for a config; ``labels`` sets class inventories without data."""
    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    for name, inventory in (labels or {}).items():
        if name not in tasks:
            raise KeyError(f"no task named {name!r}; tasks: {', '.join(tasks)}")
        tasks[name].labels = list(inventory)
    return tasks


def keras_losses(tasks: dict[str, Task]) -> dict:
    """``{task: loss}`` for ``model.compile(loss=...)``; pass masks as ``sample_weight``.

    Each loss divides by the number of labelled examples (tokens) in the batch, as
    :class:`~mtlflow.train.trainer.Trainer` does (see :meth:`Task.keras_loss`).
    """
    return {name: task.keras_loss() for name, task in tasks.items()}


def loss_weights(tasks: dict[str, Task]) -> dict[str, float]:
    """``{task: weight}`` from the config, for ``model.compile(loss_weights=...)``."""
    return {name: float(task.spec.weight) for name, task in tasks.items()}
