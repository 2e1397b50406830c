"""Atomic SavedModel export in TF Serving's layout: ``EXPORT_BASE/<version>/``."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

import tensorflow as tf

from mtlflow.errors import MtlflowError
from mtlflow.export.inference import InferenceModule
from mtlflow.export.warmup import write_warmup_requests


def existing_versions(base: Path) -> list[int]:
    """Version numbers under ``base`` (numbered directories, complete or not).

    Used to pick the next free number; :func:`complete_versions` lists the loadable ones.
    """
    if not base.is_dir():
        return []
    return sorted(int(p.name) for p in base.iterdir() if p.is_dir() and re.fullmatch(r"\d+", p.name))


def complete_versions(base: Path) -> list[int]:
    """Versions a server may load: numbered directories holding a ``saved_model.pb``.

    Hidden staging directories (``.tmp-…``) are never numbered, so they never appear.
    """
    return [v for v in existing_versions(Path(base)) if (Path(base) / str(v) / "saved_model.pb").is_file()]


def export_saved_model(module: InferenceModule, base: str | Path, version: int | None = None,
                       model_card: dict | None = None) -> Path:
    """Writes ``base/<version>/`` (next free version by default) and returns its path.

    The SavedModel is written to a hidden temporary directory beside the target and
    renamed into place when complete, so a server polling ``base`` never sees half an
    export. Its ``serving_default`` signature takes the raw columns and returns every
    task's outputs, and ``predict_<task>`` returns one task's; ``assets.extra/mtlflow.json``
    holds the model card.
    """
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    if version is None:
        version = (existing_versions(base) or [0])[-1] + 1
    if version < 0:
        raise MtlflowError(f"--version must be a non-negative integer, got {version}")
    target = base / str(version)
    if target.exists():
        raise MtlflowError(f"{target}: version {version} already exists; pick another --version or remove it")
    staging = base / f".tmp-{version}-{uuid.uuid4().hex[:8]}"
    try:
        tf.saved_model.save(module, str(staging), signatures=module.signatures())
        if model_card is not None:
            extra = staging / "assets.extra"
            extra.mkdir()
            (extra / "mtlflow.json").write_text(json.dumps(model_card, ensure_ascii=False, indent=1), "utf-8")
        write_warmup_requests(staging)
        os.rename(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target
