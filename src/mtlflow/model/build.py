"""A Keras model from a config: inputs → encoder → sharing → one tower and head per task."""

from __future__ import annotations

import keras

from mtlflow.config import Config
from mtlflow.data.vocabulary import Vocabularies
from mtlflow.model.encoders import FeatureEncoder, TextEncoder
from mtlflow.tasks import Task


def model_inputs(config: Config, vocab: Vocabularies) -> dict[str, keras.KerasTensor]:
    """Symbolic model inputs (what the :class:`Preprocessor` produces)."""
    inputs = {}
    if config.inputs.text:
        inputs["token_ids"] = keras.Input((None,), dtype="int32", name="token_ids")
    if config.inputs.dense:
        inputs["dense"] = keras.Input((config.inputs.dense.dim,), name="dense")
    if config.inputs.numeric:
        inputs["numeric"] = keras.Input((len(config.inputs.numeric),), name="numeric")
    if config.inputs.categorical:
        inputs["categorical"] = keras.Input((len(config.inputs.categorical),), dtype="int32", name="categorical")
    return inputs


def encode(config: Config, vocab: Vocabularies, inputs: dict, prefix: str):
    """Token states (or None without text) and a pooled vector, from layers named ``prefix_*``."""
    enc, sharing = config.encoder, config.sharing
    tokens, parts = None, []
    if "token_ids" in inputs:
        tokens, pooled = TextEncoder(
            len(vocab.tokens), kind=enc.type, embedding_dim=enc.embedding_dim, units=enc.units,
            layers=enc.layers, heads=enc.heads, ff_units=enc.ff_units, dropout=enc.dropout,
            pooling=enc.pooling, max_length=config.inputs.text.max_length, token_dropout=enc.token_dropout,
            seed=config.training.seed, name=f"{prefix}_text_encoder",
        )(inputs["token_ids"])
        parts.append(pooled)
    features = {k: inputs[k] for k in ("dense", "numeric", "categorical") if k in inputs}
    if features:
        sizes = [len(vocab.categorical[c]) for c in config.inputs.categorical]
        parts.append(FeatureEncoder(sizes, enc.categorical_dim, enc.mlp, enc.dropout,
                                    name=f"{prefix}_feature_encoder")(features))
    pooled = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name=f"{prefix}_concat")(parts)
    for i, units in enumerate(sharing.units):
        pooled = keras.layers.Dense(units, activation="relu", name=f"{prefix}_shared_{i}")(pooled)
        if tokens is not None:
            tokens = keras.layers.Dense(units, activation="relu", name=f"{prefix}_shared_tokens_{i}")(tokens)
        if sharing.dropout:
            pooled = keras.layers.Dropout(sharing.dropout)(pooled)
            tokens = keras.layers.Dropout(sharing.dropout)(tokens) if tokens is not None else None
    return tokens, pooled


def build_model(config: Config, vocab: Vocabularies, tasks: dict[str, Task]) -> keras.Model:
    """The multi-task model: a ``keras.Model`` with one named output per task.

    ``sharing.type: hard`` builds one encoder (layers ``shared_*``) that every task reads;
    ``none`` builds one encoder per task (layers ``<task>_*``), the single-task baseline.
    Task towers and heads are named ``<task>_tower_<i>`` and ``<task>``.
    """
    keras.utils.set_random_seed(config.training.seed)
    inputs = model_inputs(config, vocab)
    outputs = {}
    shared = encode(config, vocab, inputs, "shared") if config.sharing.type == "hard" else None
    for name, task in tasks.items():
        tokens, pooled = shared or encode(config, vocab, inputs, name)
        outputs[name] = task.build_head(tokens if task.level == "token" else pooled)
    return keras.Model(inputs, outputs, name="mtlflow")


def task_variables(model: keras.Model, tasks: dict[str, Task]) -> dict[str, list]:
    """Trainable variables grouped as ``{"shared": [...], task: [...]}`` by layer name."""
    groups: dict[str, list] = {"shared": [], **{t: [] for t in tasks}}
    for layer in model.layers:
        owner = next((t for t in tasks if layer.name == t or layer.name.startswith(t + "_")), "shared")
        groups[owner].extend(layer.trainable_variables)
    return groups
