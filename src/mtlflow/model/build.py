"""A Keras model from a config: inputs → encoder → sharing → one tower and head per task."""

from __future__ import annotations

import weakref

import keras

from mtlflow.config import Config
from mtlflow.data.vocabulary import Vocabularies, first_rare_id
from mtlflow.model.encoders import FeatureEncoder, TextEncoder
from mtlflow.tasks import Task


def model_inputs(config: Config, vocab: Vocabularies) -> dict[str, keras.KerasTensor]:
    """Symbolic model inputs (what the :class:`Preprocessor` produces)."""
    inputs = {}
    if config.inputs.text:
        inputs["token_ids"] = keras.Input((None,), dtype="int32", name="token_ids")
        if config.encoder.type == "pretrained":
            inputs["word_starts"] = keras.Input((None,), dtype="int32", name="word_starts")
        else:
            if config.encoder.char_cnn is not None:
                inputs["char_ids"] = keras.Input((None, None), dtype="int32", name="char_ids")
            if config.encoder.bigrams is not None:
                inputs["bigram_ids"] = keras.Input((None,), dtype="int32", name="bigram_ids")
    if config.inputs.dense:
        inputs["dense"] = keras.Input((config.inputs.dense.dim,), name="dense")
    if config.inputs.numeric:
        inputs["numeric"] = keras.Input((len(config.inputs.numeric),), name="numeric")
    if config.inputs.categorical:
        inputs["categorical"] = keras.Input((len(config.inputs.categorical),), dtype="int32", name="categorical")
    return inputs


def encode(config: Config, vocab: Vocabularies, inputs: dict, prefix: str, pretrained_weights: bool = True):
    """Token states (or None without text) and a pooled vector, from layers named ``prefix_*``."""
    enc, sharing = config.encoder, config.sharing
    tokens, parts = None, []
    if enc.type == "pretrained":
        from mtlflow.model.pretrained import PretrainedEncoder

        tokens, pooled = PretrainedEncoder(enc.path, pooling=enc.pooling, load_weights=pretrained_weights,
                                           name=f"{prefix}_text_encoder")(inputs["token_ids"], inputs["word_starts"])
        parts.append(pooled)
    elif "token_ids" in inputs:
        char_cnn = None
        if enc.char_cnn is not None:
            c = enc.char_cnn
            char_cnn = dict(vocab_size=len(vocab.fitted("chars", "encoder.char_cnn")), dim=c.dim, filters=c.filters, widths=list(c.widths),
                            dropout=c.dropout)
        bigrams = None
        if enc.bigrams is not None:
            bigrams = dict(vocab_size=len(vocab.fitted("bigrams", "encoder.bigrams")), dim=enc.bigrams.dim,
                           dropout=enc.bigrams.dropout)
        tokens, pooled = TextEncoder(
            len(vocab.tokens), kind=enc.type, embedding_dim=enc.embedding_dim, units=enc.units,
            layers=enc.layers, heads=enc.heads, ff_units=enc.ff_units, dropout=enc.dropout,
            pooling=enc.pooling, max_length=config.inputs.text.max_length, token_dropout=enc.token_dropout,
            seed=config.training.seed, char_cnn=char_cnn, bigrams=bigrams, rare_token_dropout=enc.rare_token_dropout,
            rare_from=first_rare_id(vocab.fitted("token_counts", "encoder.rare_token_dropout"), enc.rare_count)
            if enc.rare_token_dropout else None, name=f"{prefix}_text_encoder",
        )(inputs["token_ids"], inputs.get("char_ids"), inputs.get("bigram_ids"))
        parts.append(pooled)
    features = {k: inputs[k] for k in ("dense", "numeric", "categorical") if k in inputs}
    if features:
        sizes = [len(vocab.categorical[c]) for c in config.inputs.categorical]
        parts.append(FeatureEncoder(sizes, enc.categorical_dim, enc.mlp, enc.dropout,
                                    name=f"{prefix}_feature_encoder")(features))
    pooled = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name=f"{prefix}_concat")(parts)
    for i, units in enumerate(sharing.setting("units") if sharing.type in ("hard", "none") else ()):
        pooled = keras.layers.Dense(units, activation="relu", name=f"{prefix}_shared_{i}")(pooled)
        if tokens is not None:
            tokens = keras.layers.Dense(units, activation="relu", name=f"{prefix}_shared_tokens_{i}")(tokens)
        if sharing.dropout:
            pooled = keras.layers.Dropout(sharing.dropout)(pooled)
            tokens = keras.layers.Dropout(sharing.dropout)(tokens) if tokens is not None else None
    return tokens, pooled


def build_model(config: Config, vocab: Vocabularies, tasks: dict[str, Task],
                pretrained_weights: bool = True) -> keras.Model:
    """The multi-task model: a ``keras.Model`` with one named output per task.

    ``sharing.type: hard`` builds one encoder (layers ``shared_*``) that every task reads;
    ``none`` builds one encoder per task (layers ``<task>_*``), the single-task baseline;
    ``mmoe``, ``cgc``, ``ple`` and ``cross_stitch`` put that sharing layer (from
    :mod:`mtlflow.layers`) between one shared encoder and the task towers. Gated layers add
    one output ``gates.<task>`` per task (``[batch, experts]``, or ``[batch, time, experts]``
    for token-level tasks): the expert weights, which the evaluator summarises. A binary task
    with ``product_of`` (ESMM's ``pCTCVR = pCTR × pCVR``) multiplies the named tasks' outputs.
    Task towers and heads are named ``<task>_tower_<i>`` and ``<task>``.
    ``pretrained_weights=False`` builds a pretrained encoder without reading its checkpoint
    (when the run's own checkpoint is restored next).
    """
    keras.utils.set_random_seed(config.training.seed)
    inputs = model_inputs(config, vocab)
    outputs: dict = {}
    head_inputs: dict = {}  # task → the tensor its own layers start from (its encoder's input with sharing none)
    own = {n: t for n, t in tasks.items() if not _factors(t)}
    tokens = pooled = None
    if config.encoder.interaction is not None:
        from mtlflow.model.interaction import check_interaction

        check_interaction(config, tasks)
    if config.sharing.type in ("hard", "none"):
        shared = encode(config, vocab, inputs, "shared", pretrained_weights) if config.sharing.type == "hard" else None
        if shared:
            tokens, pooled = shared
        if config.encoder.interaction is not None:  # joint intent/slot module (model/interaction.py)
            from mtlflow.model.interaction import build_interaction

            outputs.update(build_interaction(config, tasks, inputs, tokens))
        for name, task in _sources_first(own):
            if name in outputs:
                continue
            task_tokens, task_pooled = shared or encode(config, vocab, inputs, name)
            outputs[name] = _head(task, task_tokens if task.level == "token" else task_pooled, outputs)
            head_inputs[name] = (task_tokens if task.level == "token" else task_pooled) if shared else None
    else:
        tokens, pooled = encode(config, vocab, inputs, "shared", pretrained_weights)
        for level, x in (("example", pooled), ("token", tokens)):
            names = [n for n, t in own.items() if t.level == level]
            if not names:
                continue
            layer = sharing_layer(config.sharing, len(names), config.training.seed,
                                  f"shared_{config.sharing.type}" + ("_tokens" if level == "token" else ""))
            result = layer(x)
            per_task, gates = result if layer.gated else (result, None)
            for i, name in enumerate(names):
                outputs[name] = _head(tasks[name], per_task[i], outputs)
                head_inputs[name] = per_task[i]
                if gates is not None:
                    outputs[f"gates.{name}"] = gates[i]
    for name, task in tasks.items():
        if _factors(task):
            outputs[name] = keras.layers.Multiply(name=name)([outputs[f] for f in _factors(task)])
    if config.training.balance.gradients == "representation" and config.sharing.type != "none":
        # the shared representation, for per-task gradients taken there (see BalanceConfig)
        levels = {t.level for t in own.values()}
        if "example" in levels:
            outputs["representation.pooled"] = pooled
        if "token" in levels and tokens is not None:
            outputs["representation.tokens"] = tokens
    order = [*tasks, *(k for k in outputs if k not in tasks)]
    model = keras.Model(inputs, {k: outputs[k] for k in order}, name="mtlflow")
    _TASK_LAYERS[model] = _owned_layers(tasks, outputs, head_inputs)
    return model


def sharing_layer(sharing, num_tasks: int, seed: int, name: str):
    """The :mod:`mtlflow.layers` layer for ``sharing.type`` (gated ones return their gates)."""
    from mtlflow import layers

    common = dict(activation="relu", dropout=sharing.dropout, seed=seed, name=name)
    kind, get = sharing.type, sharing.setting
    if kind == "mmoe":
        return layers.MMoE(num_tasks, num_experts=get("experts"), expert_units=get("expert_units"),
                           gate_units=get("gate_units"), return_gates=True, **common)
    if kind == "cgc":
        return layers.CGC(num_tasks, shared_experts=get("shared_experts"), task_experts=get("task_experts"),
                          expert_units=get("expert_units"), return_gates=True, **common)
    if kind == "ple":
        return layers.PLE(num_tasks, levels=get("levels"), shared_experts=get("shared_experts"),
                          task_experts=get("task_experts"), expert_units=get("expert_units"),
                          return_gates=True, **common)
    if kind == "cross_stitch":
        return layers.CrossStitch(num_tasks, units=get("units"), alpha_self=get("alpha_self"), **common)
    raise ValueError(f"sharing.type {kind!r} has no sharing layer")


def expert_names(model: keras.Model, config: Config, tasks: dict[str, Task]) -> dict[str, list[str]]:
    """``{task: [expert name, ...]}`` in the order of that task's ``gates.<task>`` output."""
    names: dict[str, list[str]] = {}
    own = [n for n, t in tasks.items() if not _factors(t)]
    for level, suffix in (("example", ""), ("token", "_tokens")):
        layer_name = f"shared_{config.sharing.type}{suffix}"
        layer = next((l for l in model.layers if l.name == layer_name), None)
        if layer is None or not getattr(layer, "gated", False):
            continue
        for i, name in enumerate(n for n in own if tasks[n].level == level):
            names[name] = list(layer.expert_names(i))
    return names


def _sources_first(tasks: dict[str, Task]) -> list[tuple[str, Task]]:
    """Tasks with the ones a ``condition_on`` reads built before the tasks that read them."""
    return sorted(tasks.items(), key=lambda item: getattr(item[1].spec, "condition_on", None) is not None)


def _head(task: Task, x, outputs: dict):
    """``task.build_head(x)``; with ``condition_on``, ``x`` first gets the source task's
    prediction at every token (:class:`~mtlflow.model.conditioning.TokenConditioning`)."""
    source = getattr(task.spec, "condition_on", None)
    if source is not None:
        from mtlflow.model.conditioning import TokenConditioning

        x = TokenConditioning(task.spec.condition_stop_gradient, name=f"{task.name}_condition")(x, outputs[source])
    return task.build_head(x)


def _factors(task: Task) -> list[str]:
    return list(getattr(task.spec, "product_of", None) or ())


# model → {layer name: task} for the models build_model made (weakly held: a model is not kept alive)
_TASK_LAYERS: "weakref.WeakKeyDictionary[keras.Model, dict[str, str]]" = weakref.WeakKeyDictionary()


def _layers_behind(tensor, stop: list) -> list:
    """The layers that compute ``tensor``, walking the functional graph back to the model inputs
    or to any tensor in ``stop`` (not included)."""
    stop_ids = {id(t) for t in stop if t is not None}
    layers, seen_nodes, stack = [], set(), [tensor]
    while stack:
        t = stack.pop()
        history = getattr(t, "_keras_history", None)
        if id(t) in stop_ids or history is None:
            continue
        layer, node_index = history.operation, history.node_index
        if (id(layer), node_index) in seen_nodes:
            continue
        seen_nodes.add((id(layer), node_index))
        if all(layer is not known for known in layers):
            layers.append(layer)
        stack.extend(layer._inbound_nodes[node_index].input_tensors)
    return layers


def _owned_layers(tasks: dict[str, Task], outputs: dict, head_inputs: dict) -> dict[str, str]:
    """``{layer name: task}``: each task owns exactly the layers between its head input and its output.

    The walk from a task's output stops at the tensor its tower started from (the shared
    representation, or its sharing layer's slice) and at other tasks' outputs (a
    ``condition_on`` source's head stays its own); with ``sharing.type: none`` there is no
    shared tensor, so the task's own encoder is its too. Layers no task owns are ``shared``.
    """
    owners: dict[str, str] = {}
    for name in tasks:
        others = [outputs[o] for o in tasks if o != name]
        for layer in _layers_behind(outputs[name], [head_inputs.get(name), *others]):
            if not isinstance(layer, keras.layers.InputLayer):
                owners.setdefault(layer.name, name)
    return owners


def task_variables(model: keras.Model, tasks: dict[str, Task]) -> dict[str, list]:
    """Trainable variables grouped as ``{"shared": [...], task: [...]}``.

    Ownership is by construction (:func:`_owned_layers`), not by name: with tasks ``intent``
    and ``intent_type``, ``intent_type``'s tower is ``intent_type``'s. For a model that
    :func:`build_model` did not make, a layer belongs to the task whose name it has exactly.
    """
    owners = _TASK_LAYERS.get(model)
    groups: dict[str, list] = {"shared": [], **{t: [] for t in tasks}}
    for layer in model.layers:
        owner = owners.get(layer.name) if owners is not None else (layer.name if layer.name in tasks else None)
        groups[owner if owner in tasks else "shared"].extend(layer.trainable_variables)
    return groups
