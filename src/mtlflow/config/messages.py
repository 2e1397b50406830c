"""pydantic's validation errors as one line naming the exact key path and what is allowed there.

``tasks[2].type: unknown task type 'multiklass'; allowed: multiclass, ...`` rather than
pydantic's multi-line report with union-branch names in the location.
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import ValidationError

from mtlflow.config.balance import BALANCE_METHODS, BalanceBase
from mtlflow.config.base import KeyPathError, StrictModel
from mtlflow.config.root import Config
from mtlflow.config.sharing import SHARING_TYPES, SharingBase


def describe(exc: ValidationError, raw: dict) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    message = _message(first, raw)
    more = len(errors) - 1
    return message + (f" (and {more} more error{'s' if more > 1 else ''})" if more else "")


def _message(error: dict, raw: dict) -> str:
    loc = _clean_loc(error["loc"], raw)
    path = _format_path(loc) or "<top level>"
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if isinstance(ctx.get("error"), KeyPathError):
        return str(ctx["error"])
    if kind == "extra_forbidden":
        return _unknown_key(loc, path, raw)
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "union_tag_invalid":
        field = ctx["discriminator"].strip("'()")
        tags = ctx["expected_tags"]
        if field == "type" and loc and loc[0] == "tasks":
            return f"{path}.type: unknown task type {ctx['tag']!r}; allowed: {tags.replace(chr(39), '')}"
        return f"{path}.{field}: unknown {loc[-1]} {field} {ctx['tag']!r}; allowed: {tags}"
    if kind == "union_tag_not_found":
        return f"{path}.type: required key is missing; allowed: multiclass, multilabel, binary, regression, tagging"
    text = error["msg"]
    if text.startswith("Value error, "):
        text = text[len("Value error, ") :]
    return f"{path}: {text} (got {_short(error.get('input'))})"


def _unknown_key(loc: tuple, path: str, raw: dict) -> str:
    """``unknown key`` with the keys allowed there; for a key of another sharing type or balance
    method, which one uses it."""
    model = _section_at(loc[:-1], raw)
    key = loc[-1]
    allowed = list(model.model_fields) if model is not None else []
    for base, kinds, what in ((SharingBase, SHARING_TYPES, "used by sharing type"),
                              (BalanceBase, BALANCE_METHODS, "a hyperparameter of")):
        if model is None or not issubclass(model, base) or model is base:
            continue
        users = sorted(name for name, cls in kinds.items() if key in cls.model_fields)
        tag = next(name for name, cls in kinds.items() if cls is model)
        if users:
            only = "only by" if base is SharingBase else "only of"
            return f"{path}: not {what} {tag!r} ({only} {', '.join(users)}); allowed keys: {', '.join(allowed)}"
    return f"{path}: unknown key; allowed keys here: {', '.join(allowed)}"


_UNION_BRANCHES = ("multiclass", "multilabel", "binary", "regression", "tagging", "float", "int", "str", "bool",
                   *SHARING_TYPES, *BALANCE_METHODS)


def _clean_loc(loc: tuple, raw: dict) -> tuple:
    """Drops pydantic's union-branch names from a location: (tasks, 2, tagging, x) → (tasks, 2, x)."""
    out: list = []
    node: Any = raw
    for part in loc:
        if isinstance(part, str) and (
            # a non-mapping has no keys, so a name under it is a union branch ("float")
            not isinstance(node, dict)
            or part not in node
            and (part in _UNION_BRANCHES or "[" in part or part.startswith("constrained-"))
        ):
            continue
        out.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def _format_path(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _section_at(loc: tuple, raw: dict):
    """The config model of the section at ``loc`` (union sections by their own tag), or None."""
    model: Any = Config
    node: Any = raw
    annotation: Any = None
    for part in loc:
        node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(part, int):  # a list entry: pick its model by the entry's own ``type``
            model = _section_model(annotation, node)
            if model is None:
                return None
            continue
        if model is None or part not in getattr(model, "model_fields", {}):
            return None
        annotation = model.model_fields[part].annotation
        model = _section_model(annotation, node)
    if model is Config.model_fields["tasks"].annotation:
        return None
    return model


def _section_model(annotation: Any, node: Any):
    """The StrictModel an annotation stands for; in a union, the member whose tag ``node`` carries
    (``type`` or ``method``; the member with a default tag when ``node`` gives none)."""
    candidates = [a for a in _flatten(annotation) if isinstance(a, type) and issubclass(a, StrictModel)]
    if len(candidates) > 1 and isinstance(node, dict):
        for field in ("type", "method"):
            tagged = [c for c in candidates if field in c.model_fields]
            if len(tagged) < 2:
                continue
            if field in node:
                value = node[field]
            else:
                value = next((c.model_fields[field].default for c in tagged
                              if isinstance(c.model_fields[field].default, str)), None)
            for cls in tagged:
                if value in get_args(cls.model_fields[field].annotation):
                    return cls
    return candidates[0] if candidates else None


def _flatten(annotation: Any) -> list:
    args = get_args(annotation)
    if not args:
        return [annotation]
    return [leaf for a in args for leaf in _flatten(a)]


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
