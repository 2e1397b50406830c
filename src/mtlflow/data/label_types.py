"""Which JSON types a label of each task type may have, and what to say when it has another.

JSON Lines keeps a value's type, so a label can arrive as the wrong kind of thing:
``"intent": ["refund", "complaint"]`` for a multiclass task (one class per example) would
otherwise become a class named ``"['refund', 'complaint']"``. These checks run before a
task encodes a value; CSV / TSV cells are always strings (or empty), so there only a
regression label's text is parsed (by the task) and nothing here can fail.

=============  ==========================================================  ==================
task type      accepted                                                    example
=============  ==========================================================  ==================
multiclass     a string, or an integer class id                            ``"refund"``, ``3``
binary         true/false, 0/1, or a string (yes/no, or ``positive``)      ``true``
multilabel     an array of label names, or a ``separator``-joined string   ``["a", "b"]``
regression     a number (a numeric string in CSV only)                     ``4.5``
tagging        an array of tag strings, or a ``separator``-joined string   ``["O", "B-city"]``
=============  ==========================================================  ==================

``null`` is never a type error: it marks the label missing (mask 0).
"""

from __future__ import annotations

import json
from typing import Any

_EXPECTED = {
    "multiclass": ('one class: a string or an integer class id', '"refund"'),
    "binary": ("true/false, 0/1 or a string such as yes/no", "true"),
    "multilabel": ("an array of label names (or one separator-joined string)", '["refund", "complaint"]'),
    "regression": ("a number", "4.5"),
    "tagging": ("an array of tags, one per token (or one separator-joined string)", '["O", "B-city"]'),
}


def json_kind(value: Any) -> str:
    """``value``'s JSON type in words: "an array", "an object", "a string", ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def label_type_problem(value: Any, task_type: str, typed: bool) -> str | None:
    """Why ``value`` cannot be a ``task_type`` label, with the fix; ``None`` when its type is fine.

    ``typed``: the value comes from JSON (its type is the writer's choice); from CSV every
    value is a string and only ``None`` (empty) or a string reach here.
    """
    if value is None or task_type not in _EXPECTED:
        return None
    problem = _problem(value, task_type, typed)
    if problem is None:
        return None
    expected, example = _EXPECTED[task_type]
    shown = json.dumps(value, ensure_ascii=False, default=str)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"expected {expected}, got {problem} {shown}; write it like {example}, or null if the row has no label"


def _problem(value: Any, task_type: str, typed: bool) -> str | None:
    """The offending kind of ``value`` ("an array", "an array holding a number", ...) or None."""
    kind = json_kind(value)
    if task_type == "multiclass":
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return None if ok else kind
    if task_type == "binary":
        return None if isinstance(value, (str, bool, int, float)) else kind
    if task_type == "regression":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            return kind
        return kind if typed and isinstance(value, str) else None
    if task_type in ("multilabel", "tagging"):
        if isinstance(value, str):
            return None
        if not isinstance(value, (list, tuple)):
            return kind
        allowed = (str,) if task_type == "tagging" else (str, int)
        bad = next((item for item in value if isinstance(item, bool) or not isinstance(item, allowed)), _NONE)
        return None if bad is _NONE else f"an array holding {json_kind(bad)}"
    return None


_NONE = object()
