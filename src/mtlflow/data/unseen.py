"""Gold labels unseen in training: scored as errors, as published evaluations score them.

A dev or test example may carry a label the training split lacks (an intent, or a slot
tag of a type never seen). The model cannot output it, so training masks it
(``data.on_bad_label: mask``). Evaluation must not drop it: published joint-NLU numbers
(Goo et al., NAACL 2018; Qin et al., EMNLP 2019; the ``conlleval`` script) compare every
gold label with the prediction, so

* intent accuracy counts the example as wrong (and macro F1 counts an unseen class with
  F1 = 0);
* slot F1 keeps every gold span of the sentence, so the unseen-type spans are false
  negatives (recall falls) while its other spans are scored as usual;
* the joint (sentence / frame) accuracy counts the example as wrong.

``data.unseen_labels`` chooses the policy:

* ``count_as_errors`` (default): as above;
* ``exclude``: the rows that hold such a label leave that task's metrics *and* the joint
  accuracy (every metric is then over the rows the model could have got right).

Either way ``metrics.json`` gives, per task, ``unseen_labels``: the split, the number of
rows, each unseen label with its count, and how they were scored; ``metrics.md`` shows
them in a table.

The same record keeps the gold tags a token-level model cannot see: a sentence longer
than ``inputs.text.max_length`` is cut to that length for the model, but published slot
F1 scores the whole sentence. Its full gold tag list is kept (``past_max_length``), so the
spans past the cut count as missed (recall falls, and the sentence is wrong in the joint
accuracy) whatever the policy; ``metrics.json`` shows, per task, ``past_max_length``
(rows, gold tokens past the cut, gold spans that reach past it, and ``max_length``), and
training says so once per split. Raising ``max_length`` is the fix.

Example (a test split whose row 4 has intent ``Greet``, absent from training)::

    gold = UnseenGold("count_as_errors", "test")
    gold.add("intent", 4, "Greet", ["Greet"])
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

POLICIES = ("count_as_errors", "exclude")
SCORABLE_TYPES = ("multiclass", "tagging")
"""Task types whose unseen gold labels can be scored; other types' rows are excluded and said so."""


@dataclass
class UnseenGold:
    """One split's gold labels that the tasks cannot encode because training lacked them.

    Attributes:
      policy: ``count_as_errors`` or ``exclude`` (see the module docstring).
      split: the split's name (``validation``, ``test``, ...).
      gold: ``{task: {row index: gold}}``; the gold is the label (example-level tasks) or
        the sentence's full tag list (token-level tasks).
      labels: ``{task: Counter(unseen label → rows)}``.
      past_max_length: ``{task: {row index: full gold tags}}`` of the labelled sentences
        longer than ``max_length`` (their encoded labels are cut to it).
      max_length: the model's ``inputs.text.max_length`` (``None``: nothing is cut).
    """

    policy: str = "count_as_errors"
    split: str = ""
    gold: dict[str, dict[int, Any]] = field(default_factory=dict)
    labels: dict[str, Counter] = field(default_factory=dict)
    past_max_length: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    max_length: int | None = None

    def __post_init__(self):
        if self.policy not in POLICIES:
            raise ValueError(f"unseen-label policy must be one of {', '.join(POLICIES)}; got {self.policy!r}")

    def add(self, task: str, row: int, gold: Any, unseen: list[str]) -> None:
        """Records row ``row``'s gold for ``task``; ``unseen`` names its labels missing from training."""
        self.gold.setdefault(task, {})[row] = gold
        self.labels.setdefault(task, Counter()).update(dict.fromkeys(unseen, 1))

    def add_past_max_length(self, task: str, row: int, tags: list[str]) -> None:
        """Records the full gold ``tags`` of row ``row``, a sentence longer than ``max_length``."""
        self.past_max_length.setdefault(task, {})[row] = list(tags)

    def subset(self, index) -> UnseenGold:
        """The same gold for the examples at ``index`` (positions in ``index`` become the rows)."""
        position = {int(r): i for i, r in enumerate(index)}
        out = UnseenGold(self.policy, self.split, max_length=self.max_length)
        for task, gold in self.gold.items():
            for row, value in gold.items():
                if row in position:
                    names = [n for n in self.labels.get(task, {}) if _holds(value, n)]
                    out.add(task, position[row], value, names)
        for task, long in self.past_max_length.items():
            for row, tags in long.items():
                if row in position:
                    out.add_past_max_length(task, position[row], tags)
        return out

    def rows(self, task: str) -> list[int]:
        return sorted(self.gold.get(task, {}))

    def summary(self, task: str, scorable: bool = True) -> dict:
        """What ``metrics.json`` shows under ``<task>.unseen_labels``."""
        scored = "as errors" if self.policy == "count_as_errors" and scorable else "excluded"
        labels = self.labels.get(task, Counter())
        return {"split": self.split, "rows": len(self.gold.get(task, {})),
                "labels": dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))), "scored": scored}

    def describe_past_max_length(self, task: str) -> str:
        """One log line on the task's sentences cut to ``max_length``, or ``""``."""
        long = self.past_max_length.get(task)
        if not long:
            return ""
        longest = max(len(tags) for tags in long.values())
        return (f"{self.split}: {len(long)} {task!r} sentences are longer than inputs.text.max_length = "
                f"{self.max_length} tokens (up to {longest}): the model sees the first {self.max_length}; "
                "evaluation scores the whole sentence, so gold spans past the cut count as missed "
                f"(raise inputs.text.max_length to {longest} to cover them)")

    def describe(self, task: str) -> str:
        """One log line naming the task's unseen labels, or ``""`` when there are none."""
        labels = self.labels.get(task)
        if not labels:
            return ""
        names = ", ".join(f"{name} ×{count}" for name, count in sorted(labels.items(), key=lambda kv: (-kv[1], kv[0])))
        scoring = ("scored as errors (data.unseen_labels: exclude leaves them out)"
                   if self.policy == "count_as_errors" else "left out of the metrics (data.unseen_labels: exclude)")
        return (f"{self.split}: {len(self.gold[task])} {task!r} labels unseen in training ({names}): "
                f"masked for training, {scoring}")


def _holds(gold: Any, label: str) -> bool:
    return label in gold if isinstance(gold, list) else gold == label


def record_unseen(unseen: UnseenGold, task, error: Exception, value: Any, row: int,
                  tokens: list[str] | None, max_length: int | None) -> bool:
    """Records a masked label when it is a gold label unseen in training; returns whether it was.

    ``error``: the task's :class:`~mtlflow.tasks.base.LabelError`; only one whose
    ``unseen_label`` is set counts (a malformed label stays an ordinary bad label). A
    token-level gold counts only when it has one tag per token; it is kept whole (the
    evaluator scores every gold span, those past ``max_length`` included).
    """
    if getattr(error, "unseen_label", None) is None or task.type_name not in SCORABLE_TYPES + ("multilabel",):
        return False
    known = set(task.labels)
    if task.level == "token":
        tags = task.split(value, "")
        if tags is None or tokens is None or len(tags) != len(tokens):
            return False
        gold: Any = list(tags)
        names = [t for t in dict.fromkeys(tags) if t not in known]
    elif task.type_name == "multilabel":
        gold, names = None, [str(error.unseen_label)]
    else:
        gold, names = str(value), [str(value)]
    unseen.add(task.name, row, gold, names)
    return True
