"""``--set KEY=VALUE``: one config value given on the command line, validated like the file.

``KEY`` is the dotted key path that the error messages use (``training.epochs``,
``training.balance.method``, ``tasks[0].weight``); ``VALUE`` is read as YAML, so
``2`` is a number, ``null`` unsets, ``[64, 32]`` is a list and ``{c: 0.4}`` a mapping.
Overrides apply after the profile, in the order given; a missing mapping on the way is
created, so ``--set training.balance.method=pcgrad`` works on a config without ``training:``.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import yaml

from mtlflow.errors import ConfigError

_PART = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)((?:\[\d+\])*)$")


def parse_override(text: str) -> tuple[list[str | int], Any]:
    """``"training.epochs=2"`` → ``(["training", "epochs"], 2)``; raises ConfigError naming ``text``."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set {text}: expected KEY=VALUE, e.g. --set training.epochs=2")
    path: list[str | int] = []
    for part in key.split("."):
        match = _PART.match(part)
        if match is None:
            raise ConfigError(f"--set {text}: {key!r} is not a key path; write it as in the config's error "
                              "messages, e.g. training.balance.method or tasks[0].weight")
        path.append(match.group(1))
        path.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text}: the value is not valid YAML ({getattr(exc, 'problem', None) or exc})") from None
    return path, parsed


def key_path(path: Sequence[str | int]) -> str:
    """``["tasks", 0, "weight"]`` → ``"tasks[0].weight"``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def apply_overrides(raw: dict, overrides: Sequence[str]) -> dict:
    """``raw`` (not changed) with every ``KEY=VALUE`` of ``overrides`` set in a copy."""
    result = _copy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node: Any = result
        for depth, part in enumerate(path[:-1]):
            nxt = path[depth + 1]
            node = _child(node, part, nxt, text, path[: depth + 1])
        _assign(node, path[-1], value, text, path)
    return result


def _child(node: Any, part: str | int, nxt: str | int, text: str, where: list) -> Any:
    if isinstance(part, int):
        if not isinstance(node, list) or not -len(node) <= part < len(node):
            size = len(node) if isinstance(node, list) else 0
            raise ConfigError(f"--set {text}: {key_path(where)}: no such list entry (the list has {size})")
        return node[part]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {text}: {key_path(where[:-1]) or 'the config'} is not a mapping")
    if node.get(part) is None:
        node[part] = [] if isinstance(nxt, int) else {}
    return node[part]


def _assign(node: Any, part: str | int, value: Any, text: str, path: list) -> None:
    if isinstance(part, int):
        if not isinstance(node, list) or not -len(node) <= part < len(node):
            size = len(node) if isinstance(node, list) else 0
            raise ConfigError(f"--set {text}: {key_path(path)}: no such list entry (the list has {size})")
    elif not isinstance(node, dict):
        raise ConfigError(f"--set {text}: {key_path(path[:-1])} is not a mapping")
    node[part] = value


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
