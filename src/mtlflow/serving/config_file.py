"""``--model-config-file``: TF Serving's ``ModelServerConfig`` in protobuf text format.

Parsed with the protos of ``tensorflow-serving-api``, so any file TF Serving accepts
parses the same here::

    model_config_list {
      config {
        name: 'nlu'
        base_path: '/models/nlu'
        model_platform: 'tensorflow'
        model_version_policy { latest { num_versions: 2 } }   # or all {} / specific { versions: 1 }
        version_labels { key: 'stable' value: 1 }
        version_labels { key: 'canary' value: 2 }
      }
    }

A relative ``base_path`` is taken relative to the config file.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from mtlflow.errors import MtlflowError
from mtlflow.serving.version_policy import VersionPolicy


class ModelConfig(NamedTuple):
    """One model to serve."""

    name: str
    base_path: Path
    policy: VersionPolicy = VersionPolicy()
    labels: dict[str, int] = {}


def parse_model_config(text: str, origin: str = "<config>", base_dir: Path | None = None) -> list[ModelConfig]:
    """The models of a ``ModelServerConfig`` text; raises :class:`MtlflowError` naming the problem."""
    try:
        proto = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    except text_format.ParseError as exc:
        raise MtlflowError(f"{origin}: {exc}") from None
    return models_from_proto(proto, origin, base_dir)


def models_from_proto(proto, origin: str = "<config>", base_dir: Path | None = None) -> list[ModelConfig]:
    """The models of a ``ModelServerConfig`` message (a parsed file, or a ``ReloadConfigRequest``'s)."""
    if proto.WhichOneof("config") != "model_config_list":
        raise MtlflowError(f"{origin}: expected a model_config_list {{ config {{ … }} }}; custom_model_config is not supported")
    models, seen = [], set()
    for i, config in enumerate(proto.model_config_list.config):
        where = f"{origin}: config #{i + 1}"
        if not config.name:
            raise MtlflowError(f"{where}: name is required")
        if config.name in seen:
            raise MtlflowError(f"{where}: model name {config.name!r} appears twice")
        seen.add(config.name)
        if not config.base_path:
            raise MtlflowError(f"{where} ({config.name}): base_path is required")
        if config.model_platform not in ("", "tensorflow"):
            raise MtlflowError(f"{where} ({config.name}): model_platform {config.model_platform!r} is not supported; use 'tensorflow'")
        base_path = Path(config.base_path)
        if not base_path.is_absolute() and base_dir is not None:
            base_path = base_dir / base_path
        models.append(ModelConfig(config.name, base_path, _policy(config.model_version_policy, where),
                                  dict(config.version_labels)))
    if not models:
        raise MtlflowError(f"{origin}: the model_config_list has no config")
    return models


def _policy(proto, where: str) -> VersionPolicy:
    choice = proto.WhichOneof("policy_choice")
    try:
        if choice == "all":
            return VersionPolicy.all()
        if choice == "specific":
            return VersionPolicy.specific(proto.specific.versions)
        if choice == "latest":
            return VersionPolicy.latest(proto.latest.num_versions or 1)
    except ValueError as exc:
        raise MtlflowError(f"{where}: model_version_policy: {exc}") from None
    return VersionPolicy()


def load_model_config(path: str | Path) -> list[ModelConfig]:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise MtlflowError(f"{path}: cannot read the model config file: {exc.strerror}") from None
    return parse_model_config(text, str(path), path.parent)
