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
