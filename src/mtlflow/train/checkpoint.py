"""Checkpoints keyed by Keras variable paths.

``tf.train.Checkpoint(model=keras_model)`` walks TensorFlow's object graph, which under
Keras 3 does not reach layers kept in Python lists (e.g. the stacked RNN blocks of an
encoder): their weights would be silently missing from the checkpoint. Keying every
variable by its Keras ``path`` (``shared_text_encoder/bilstm_0/forward_lstm/...``)
saves all of them, including optimizer slots and dropout seed states, and a restore
checks that every variable found its value.

Keras numbers auto-named objects per process (``seed_generator_3``, ``lstm_1``), so a
model rebuilt beside another gets different paths. Keys are therefore the variable's
position (fixed by the config) plus its path with those counters removed: stable
across processes and readable in ``tf.train.list_variables``.
"""

from __future__ import annotations

import re

import tensorflow as tf

_COUNTER = re.compile(r"_\d+(?=[/_]|$)")


def variables_by_path(variables) -> dict[str, tf.Variable]:
    """``{"0003:shared_text_encoder/embedding/embeddings": tf.Variable, ...}``."""
    out: dict[str, tf.Variable] = {}
    for index, variable in enumerate(variables):
        path = getattr(variable, "path", None) or variable.name
        out[f"{index:04d}:{_COUNTER.sub('', path)}"] = getattr(variable, "value", variable)
    return out


def model_checkpoint(model) -> tf.train.Checkpoint:
    """A checkpoint of every model variable (the trainer adds optimizer and loop state to its own)."""
    return tf.train.Checkpoint(model_variables=variables_by_path(model.variables))


def restore(checkpoint: tf.train.Checkpoint, path: str) -> None:
    """Restores ``path``; every variable of ``checkpoint`` must receive a value."""
    checkpoint.restore(path).assert_existing_objects_matched()


# ---- the run directory's checkpoints, read without building a model ----------------------

_TEMP = re.compile(r"ckpt-\d+_temp(_[0-9a-f]+)?")


def latest(directory) -> str | None:
    """The newest checkpoint prefix in ``directory`` (``.../ckpt-7``), or None."""
    from pathlib import Path

    return tf.train.latest_checkpoint(str(directory)) if Path(directory).is_dir() else None


def progress(prefix: str) -> dict:
    """``{"epoch", "step", "wait"}`` saved in a trainer checkpoint (the loop's counters).

    Read from the checkpoint file alone, so ``--resume`` can say where it resumes, or that
    nothing is left to train, before any data is read or model built.
    """
    reader = tf.train.load_checkpoint(prefix)
    names = {name.split("/")[0]: name for name, _ in tf.train.list_variables(prefix) if "/" in name}
    return {key: int(reader.get_tensor(names[key])) for key in ("epoch", "step", "wait") if key in names}


def remove_partial_saves(root) -> list[str]:
    """Delete the staging directories (``ckpt-N_temp``) a killed save left under ``root``; returns their names.

    TensorFlow writes a checkpoint's shards into ``<prefix>_temp/`` and merges them into
    ``<prefix>.index`` / ``.data-*`` before the manager's ``checkpoint`` file names it, so a
    staging directory found on start belongs to a save that never finished.
    """
    import shutil
    from pathlib import Path

    removed = []
    for path in sorted(Path(root).glob("*/*_temp*")) if Path(root).is_dir() else ():
        if path.is_dir() and _TEMP.fullmatch(path.name):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(f"{path.parent.name}/{path.name}")
    return removed


def last_good_checkpoint(run_dir) -> str:
    """Where a stopped run can continue from, in words, for the divergence message."""
    from pathlib import Path

    if run_dir is None:
        return "no checkpoint is kept (the trainer has no run directory)"
    prefix = latest(Path(run_dir) / "checkpoints" / "last")
    if prefix is None:
        return ("no checkpoint was saved yet (the loss diverged before the first epoch ended), so there is nothing "
                "to resume: fix the cause and train again")
    epoch = progress(prefix).get("epoch", "?")
    return f"the last good checkpoint is {prefix} (after epoch {epoch}); --resume continues from it"
