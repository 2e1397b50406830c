"""YAML text → :class:`~mtlflow.config.root.Config`: reading, profiles, paths, the JSON schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml
from pydantic import ValidationError

from mtlflow.config.messages import describe
from mtlflow.config.overrides import apply_overrides, key_path, parse_override
from mtlflow.config.root import Config
from mtlflow.errors import ConfigError


def parse_config(raw: Any, source: str = "config") -> Config:
    """Validates a parsed YAML/JSON object; raises :class:`ConfigError` naming the key path."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the config must be a mapping of sections, got {type(raw).__name__}")
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{source}: {describe(exc, raw)}") from None


def apply_profile(raw: dict, profile: str | None, source: str = "config") -> dict:
    """``raw`` with ``profiles[profile]`` merged over it (mappings merge key by key, other
    values replace), e.g. ``profiles: {smoke: {training: {epochs: 1}, data: {max_rows: 300}}}``.
    """
    if profile is None:
        return raw
    profiles = raw.get("profiles") or {}
    if profile not in profiles:
        known = ", ".join(sorted(profiles)) or "none defined"
        raise ConfigError(f"{source}: profile {profile!r} is not in the config's profiles ({known})")
    override = profiles[profile]
    if not isinstance(override, dict):
        raise ConfigError(f"{source}: profiles.{profile}: must be a mapping of sections to override")
    return _deep_merge(raw, override)


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: str | Path, profile: str | None = None, overrides: Sequence[str] = ()) -> Config:
    """Reads and validates a YAML config file, with ``profiles[profile]`` applied if given, then
    the ``KEY=VALUE`` ``overrides`` (``--set``, see :mod:`mtlflow.config.overrides`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # a directory, no permission, ...: one line, not a traceback
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path}{where}: invalid YAML: {problem}") from None
    if isinstance(raw, dict):
        raw = apply_profile(raw, profile, str(path))
    elif profile is not None or overrides:
        raise ConfigError(f"{path}: the config must be a mapping of sections, got {type(raw).__name__}")
    if not overrides:
        return parse_config(raw, str(path))
    raw = apply_overrides(raw, overrides)
    try:
        return parse_config(raw, str(path))
    except ConfigError as exc:
        raise ConfigError(_name_the_override(str(exc), str(path), overrides)) from None


def _name_the_override(message: str, source: str, overrides: Sequence[str]) -> str:
    """``message`` with the ``--set`` that set the key it is about, if one did."""
    where = message[len(source) + 2:] if message.startswith(source + ": ") else message
    for text in reversed(overrides):
        key = key_path(parse_override(text)[0])
        if where.startswith(key) and where[len(key):len(key) + 1] in (":", ".", "["):
            return f"{message} (from --set {text})"
    return message


def resolve(config_dir: str | Path, path: str | None) -> Path | None:
    """A data path from the config, relative to the config file's folder."""
    if path is None:
        return None
    p = Path(path).expanduser()
    return p if p.is_absolute() else Path(config_dir) / p


def config_schema() -> dict:
    """JSON schema of the config (for editor completion and validation)."""
    schema = Config.model_json_schema()
    schema["title"] = "mtlflow config"
    return schema
