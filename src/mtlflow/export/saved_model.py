"""Atomic SavedModel export in TF Serving's layout: ``EXPORT_BASE/<version>/``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf

from mtlflow.errors import MtlflowError
from mtlflow.export.inference import InferenceModule
from mtlflow.export.publish import (complete_versions, existing_versions, publish, remove_abandoned_staging,
                                    staging_directory)
from mtlflow.export.warmup import write_warmup_requests

__all__ = ["complete_versions", "existing_versions", "export_saved_model"]


def export_saved_model(module: InferenceModule, base: str | Path, version: int | None = None,
                       model_card: dict | None = None) -> Path:
    """Writes ``base/<version>/`` (next free version by default) and returns its path.

    The SavedModel is written to a hidden temporary directory beside the target and
    renamed into place when complete, so a server polling ``base`` never sees half an
    export; concurrent exports to one ``base`` take consecutive versions, and staging
    directories of killed exports are removed (:mod:`mtlflow.export.publish`). Its
    ``serving_default`` signature takes the raw columns and returns every task's outputs,
    and ``predict_<task>`` returns one task's; ``assets.extra/mtlflow.json`` holds the
    model card.
    """
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    if version is not None and version < 0:
        raise MtlflowError(f"--version must be a non-negative integer, got {version}")
    if version is not None and (base / str(version)).exists():  # checked again when publishing
        raise MtlflowError(f"{base / str(version)}: version {version} already exists; "
                           "pick another --version or remove it")
    remove_abandoned_staging(base)
    staging = staging_directory(base)
    try:
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        if model_card is not None:
            extra = staging / "assets.extra"
            extra.mkdir()
            (extra / "mtlflow.json").write_text(json.dumps(model_card, ensure_ascii=False, indent=1), "utf-8")
        write_warmup_requests(staging)
        target = publish(staging, base, version)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
