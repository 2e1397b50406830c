"""The transform stage: fit the transformation once, on the training split, and save it.

Writes what :func:`mtlflow.run.train` would otherwise fit itself:

* ``vocab.json``: the text vocabulary, categorical value lists and numeric mean/std
  (:func:`~mtlflow.data.vocabulary.fit_vocabularies`, on the training split after the
  seeded validation hold-out, exactly as training does);
* ``state.json``: every task's label inventory or statistics (``Task.fit`` on train);
* ``transform.json``: a summary (sizes, label counts, numeric statistics).

The train stage passes this folder to ``train(..., transform=...)``, so the model is
built, trained and exported with this one transformation (the preprocessing inside the
exported SavedModel reads the same vocabularies): training and serving cannot diverge.
"""

from __future__ import annotations

import json
from pathlib import Path

from mtlflow.evaluate.report import _write_atomic
from mtlflow.pipeline.context import PipelineContext, StageOutcome


def transform_stage(context: PipelineContext, out: Path) -> StageOutcome:
    from mtlflow.data.vocabulary import fit_vocabularies
    from mtlflow.run import read_splits
    from mtlflow.tasks import create_task

    config = context.config
    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    train_split, _, _ = read_splits(config, tasks)
    vocab = fit_vocabularies(train_split.features, config.inputs, config.encoder)
    out.mkdir(parents=True, exist_ok=True)
    vocab.save(out / "vocab.json")
    state = {name: task.state() for name, task in tasks.items()}
    _write_atomic(out / "state.json", json.dumps(state, ensure_ascii=False, indent=1) + "\n")
    labels = {name: len(s["labels"]) for name, s in state.items() if isinstance(s.get("labels"), list)}
    summary = {
        "fitted_on": {"split": "train", "examples": len(train_split)},
        "tokens": len(vocab.tokens),
        "categorical": {c: len(v) for c, v in vocab.categorical.items()},
        "numeric": {c: {"mean": vocab.numeric_mean[c], "std": vocab.numeric_std[c]} for c in vocab.numeric_mean},
        "tasks": {name: {"labels": labels[name]} if name in labels else s for name, s in state.items()},
    }
    _write_atomic(out / "transform.json", json.dumps(summary, ensure_ascii=False, indent=1) + "\n")
    shown = ", ".join(f"{n}: {k} labels" for n, k in labels.items())
    message = (f"fitted on {len(train_split)} training examples: {len(vocab.tokens)} tokens"
               + (f", {len(vocab.categorical)} categorical, {len(vocab.numeric_mean)} numeric inputs"
                  if vocab.categorical or vocab.numeric_mean else "") + (f"; {shown}" if shown else ""))
    return StageOutcome([out / "vocab.json", out / "state.json", out / "transform.json"], message)
