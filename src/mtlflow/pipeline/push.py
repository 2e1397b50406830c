"""Push: a blessed model becomes the next version in the serving directory.

The export is :func:`mtlflow.run.export_run`, which writes a hidden staging directory
and renames it to ``<serving_dir>/<N>/`` when complete, so a running ``mtlflow serve``
polling the directory (:class:`~mtlflow.serving.model_manager.ModelManager`) picks up
the whole version or nothing. The model card gains a ``pipeline`` entry: the model's
fingerprint (a hash of its weights, label inventories and vocabularies), the run
directory and the blessing, by which a later run recognises a model already pushed
(no duplicate version) and the served version it must not regress from.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

from mtlflow.pipeline.fingerprint import hash_json, hash_path

log = logging.getLogger("mtlflow.pipeline")

CARD = Path("assets.extra") / "mtlflow.json"
MODEL_FILES = ("state.json", "vocab.json")


def model_fingerprint(train_dir: str | Path) -> str:
    """Hash of what a trained model *is*: its best weights, label inventories, vocabularies."""
    train_dir = Path(train_dir)
    weights = sorted(p for p in (train_dir / "checkpoints" / "best").glob("ckpt-*") if p.is_file())
    if not weights:
        raise FileNotFoundError(f"{train_dir / 'checkpoints' / 'best'}: no checkpoint; the train stage did not finish")
    parts = [(p.name, hash_path(p)) for p in weights] + [(name, hash_path(train_dir / name)) for name in MODEL_FILES]
    return hash_json(parts)


class ServedVersion(NamedTuple):
    """A complete version in the serving directory and its model card ({} if it has none)."""

    version: int
    path: Path
    card: dict

    @property
    def model(self) -> str | None:
        entry = self.card.get("pipeline")
        return entry.get("model") if isinstance(entry, dict) else None

    @property
    def metrics(self) -> dict | None:
        metrics = self.card.get("metrics")
        return metrics if isinstance(metrics, dict) and metrics else None


def served_versions(serving_dir: str | Path) -> list[ServedVersion]:
    """Every loadable version (``<N>/saved_model.pb``), oldest first, with its card."""
    from mtlflow.export.saved_model import complete_versions

    serving_dir = Path(serving_dir)
    out = []
    for version in complete_versions(serving_dir):
        path = serving_dir / str(version)
        card = {}
        try:
            card = json.loads((path / CARD).read_text("utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable model card, treated as none: %s", path / CARD, exc)
        out.append(ServedVersion(version, path, card if isinstance(card, dict) else {}))
    return out


def find_pushed(serving_dir: str | Path, model: str) -> ServedVersion | None:
    """The version holding the model with fingerprint ``model``, if it was pushed already."""
    return next((v for v in reversed(served_versions(serving_dir)) if v.model == model), None)


def served_baseline(serving_dir: str | Path, model: str | None = None) -> ServedVersion | None:
    """The version served now (the latest), ignoring versions of ``model`` itself.

    Skipping the model's own version keeps a re-run's gate judging the model against the
    version it replaced, not against itself.
    """
    return next((v for v in reversed(served_versions(serving_dir)) if model is None or v.model != model), None)


def push_model(train_dir: str | Path, serving_dir: str | Path, metrics: dict, provenance: dict) -> Path:
    """Exports the run in ``train_dir`` as the next version of ``serving_dir``; returns its path.

    Args:
      train_dir: the train stage's run directory.
      serving_dir: the model's base path (``mtlflow serve --model-base-path``).
      metrics: the evaluation's metrics, written into the model card.
      provenance: the card's ``pipeline`` entry (must hold ``model``, the fingerprint).
    """
    from mtlflow.run import export_run, load_run

    run = load_run(train_dir)
    return export_run(run, serving_dir, metrics=metrics, card_extra={"pipeline": provenance})
