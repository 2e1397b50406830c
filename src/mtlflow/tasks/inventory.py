"""Label inventories: the ordered list of class names a task predicts."""

from __future__ import annotations

from collections import Counter
from typing import Iterable


def build_inventory(values: Iterable[str], fixed: list[str] | None = None) -> list[str]:
    """The sorted distinct labels seen in ``values``, or ``fixed`` when the config gives them.

    Sorting (rather than order of appearance) keeps the inventory, and so the model's
    output order, independent of how the training file is shuffled.
    """
    if fixed:
        return list(fixed)
    return sorted(Counter(v for v in values if v is not None))


def lookup_or_raise(index: dict[str, int], value, task: str, location: str, inventory: list[str]) -> int:
    """Index of ``value``; an unknown label raises a LabelError naming the task, place and fix."""
    from mtlflow.tasks.base import LabelError

    key = value if isinstance(value, str) else str(value)
    if key not in index:
        shown = ", ".join(inventory[:12]) + (", ..." if len(inventory) > 12 else "")
        error = LabelError(
            f"{location}: task {task!r}: unknown label {key!r} (known: {shown}); add it to the "
            "training data or the task's `labels`, or set data.on_bad_label: mask to skip it"
        )
        error.unseen_label = key  # evaluation scores such gold labels (mtlflow.data.unseen)
        raise error
    return index[key]


class InventoryMixin:
    """Holds a task's ordered label inventory and its ``label → index`` map.

    Assigning ``labels`` (``fit``, ``load_state``, or a user setting it directly)
    rebuilds the index, so encoding never sees a stale one.
    """

    @property
    def labels(self) -> list[str]:
        return self._labels

    @labels.setter
    def labels(self, values) -> None:
        self._labels = list(values)
        self._index = {label: i for i, label in enumerate(self._labels)}

    def state(self) -> dict:
        return {"labels": self.labels}

    def load_state(self, state: dict) -> None:
        self.labels = state["labels"]

    def index_of(self, value, location: str) -> int:
        """Index of one raw label; a LabelError names the task, place and fix when unknown."""
        return lookup_or_raise(self._index, value, self.name, location, self._labels)
