"""The config fields every task type shares live in :mod:`mtlflow.config.task_spec`."""

from mtlflow.config.task_spec import TaskName, TaskSpec

__all__ = ["TaskName", "TaskSpec"]
