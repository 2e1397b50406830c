"""Task types, registered by the name used in the config's ``type:``."""

from mtlflow.tasks.base import LabelError, Task, TokenView
from mtlflow.tasks.binary import BinarySpec, BinaryTask
from mtlflow.tasks.multiclass import MulticlassSpec, MulticlassTask
from mtlflow.tasks.multilabel import MultilabelSpec, MultilabelTask
from mtlflow.tasks.regression import RegressionSpec, RegressionTask
from mtlflow.tasks.spec import TaskSpec
from mtlflow.tasks.tagging import TaggingSpec, TaggingTask

TASK_TYPES: dict[str, type[Task]] = {
    cls.type_name: cls
    for cls in (MulticlassTask, MultilabelTask, BinaryTask, RegressionTask, TaggingTask)
}


def create_task(spec: TaskSpec) -> Task:
    """The task object for one validated ``tasks:`` entry."""
    return TASK_TYPES[spec.type](spec)


__all__ = [
    "TASK_TYPES",
    "BinarySpec",
    "BinaryTask",
    "LabelError",
    "MulticlassSpec",
    "MulticlassTask",
    "MultilabelSpec",
    "MultilabelTask",
    "RegressionSpec",
    "RegressionTask",
    "TaggingSpec",
    "TaggingTask",
    "Task",
    "TaskSpec",
    "TokenView",
    "create_task",
]
