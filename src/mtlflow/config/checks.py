"""The checks that span sections of a :class:`~mtlflow.config.root.Config`.

Each takes the parsed config and raises :class:`~mtlflow.config.base.KeyPathError` naming the
exact key; :meth:`Config._cross_checks` runs them in order.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mtlflow.config.base import KeyPathError

# the model's inputs (mtlflow.model.build.model_inputs): a task output of the same name would clash
MODEL_INPUTS = frozenset({"token_ids", "word_starts", "char_ids", "dense", "numeric", "categorical"})
# the layers a task builds besides its head ``<task>`` (towers, dropout, CRF emissions, regression
# standardisation, conditioning, and with sharing none its own encoder)
TASK_LAYER_SUFFIXES = (r"(tower_\d+|dropout_\d+|emissions|standardized|condition|text_encoder|feature_encoder|concat"
                       r"|shared_\d+|shared_tokens_\d+)")

if TYPE_CHECKING:
    from mtlflow.config.root import Config


def check_all(config: Config) -> None:
    """Every cross-section check, in the order their errors are reported."""
    check_task_names(config)
    check_layer_names(config)
    check_encoder(config)
    check_task_links(config)
    check_groups(config)
    check_monitor(config)


def check_task_names(config: Config) -> None:
    """Task names are unique and not reserved; tagging tasks have a text input."""
    seen: dict[str, int] = {}
    for i, task in enumerate(config.tasks):
        if task.name in seen:
            raise KeyPathError(f"tasks[{i}].name", f"duplicate task name {task.name!r} (also tasks[{seen[task.name]}])")
        seen[task.name] = i
        if task.name == "joint":
            raise KeyPathError(f"tasks[{i}].name", "'joint' is reserved for the joint metrics; pick another name")
        if task.name == "shared":
            raise KeyPathError(f"tasks[{i}].name", "'shared' is the parameter group of the shared trunk "
                               "(training.groups, stages); pick another name")
        if task.name in MODEL_INPUTS:
            raise KeyPathError(f"tasks[{i}].name", f"{task.name!r} is the name of a model input "
                               f"({', '.join(sorted(MODEL_INPUTS))}); pick another name")
        if task.type == "tagging" and config.inputs.text is None:
            raise KeyPathError(f"tasks[{i}].type", "a tagging task needs a text input; set inputs.text")


def check_layer_names(config: Config) -> None:
    """No task is named like a layer another task, or the shared trunk, builds (``intent_tower_0``
    beside ``intent``; ``shared_mmoe``)."""
    trunk = rf"shared_({TASK_LAYER_SUFFIXES}|{config.sharing.type}(_tokens)?)"
    for i, task in enumerate(config.tasks):
        if re.fullmatch(trunk, task.name):
            raise KeyPathError(f"tasks[{i}].name", f"{task.name!r} is the name of a layer of the shared trunk; "
                               "pick another name")
        for other in config.tasks:
            if other.name != task.name and re.fullmatch(rf"{re.escape(other.name)}_{TASK_LAYER_SUFFIXES}", task.name):
                raise KeyPathError(f"tasks[{i}].name", f"{task.name!r} is the name of a layer of task "
                                   f"{other.name!r}; pick another name")


def check_encoder(config: Config) -> None:
    """A pretrained encoder has a path, a text input, and the options it supports; others have no path
    and no layer decay."""
    encoder = config.encoder
    if encoder.type == "pretrained":
        if not encoder.path:
            raise KeyPathError("encoder.path", "encoder type 'pretrained' needs path: the checkpoint directory "
                               "(config.json, model.safetensors, vocab.txt)")
        if config.inputs.text is None:
            raise KeyPathError("encoder.type", "a pretrained encoder reads text; set inputs.text")
        if encoder.pooling in ("max", "attention"):
            raise KeyPathError("encoder.pooling", f"a pretrained encoder pools by 'mean' or 'cls', not {encoder.pooling!r}")
        if config.sharing.type == "none":
            raise KeyPathError("sharing.type", "'none' would copy the pretrained encoder once per task; "
                               "use hard (or a gated sharing type) with a pretrained encoder")
        if encoder.bigrams is not None:
            raise KeyPathError("encoder.bigrams", "a pretrained encoder reads WordPiece pieces, not token pairs; "
                               "remove bigrams or use type bilstm, bigru or transformer")
        if encoder.char_cnn is not None:
            raise KeyPathError("encoder.char_cnn", "a pretrained encoder reads WordPiece pieces, not characters; "
                               "remove char_cnn or use type bilstm, bigru or transformer")
        if encoder.rare_token_dropout:
            raise KeyPathError("encoder.rare_token_dropout", "a pretrained encoder keeps its own vocabulary, with "
                               "no training counts; remove rare_token_dropout or use type bilstm, bigru or transformer")
    elif encoder.path is not None:
        raise KeyPathError("encoder.path", f"only used by encoder type 'pretrained' (type is {encoder.type!r})")
    elif config.training.layer_decay is not None:
        raise KeyPathError("training.layer_decay", "decays the learning rate through a pretrained encoder's layers; "
                           f"encoder type is {encoder.type!r}: remove layer_decay or use type pretrained")
    elif encoder.pooling == "cls":
        raise KeyPathError("encoder.pooling", "'cls' pooling needs encoder type 'pretrained'; use mean, max or attention")
    text = config.inputs.text
    if encoder.type != "pretrained" and encoder.rare_token_dropout and text is not None \
            and encoder.rare_count < text.min_count:
        raise KeyPathError("encoder.rare_count", f"is {encoder.rare_count}, but the vocabulary keeps only tokens seen "
                           f"at least inputs.text.min_count={text.min_count} times, so no token is rare and "
                           "rare_token_dropout does nothing; set rare_count to min_count or more, or min_count: 1")


def check_task_links(config: Config) -> None:
    """``product_of`` names other binary tasks with heads; ``condition_on`` names a multiclass task."""
    tasks = config.tasks
    for i, task in enumerate(tasks):
        for j, factor in enumerate(getattr(task, "product_of", None) or ()):
            other = next((t for t in tasks if t.name == factor), None)
            where = f"tasks[{i}].product_of[{j}]"
            if factor == task.name or other is None:
                names = [t.name for t in tasks if t.name != task.name]
                raise KeyPathError(where, f"{factor!r} is not another task; tasks: {', '.join(names)}")
            if other.type != "binary" or other.product_of:
                raise KeyPathError(where, f"task {factor!r} must be a binary task with its own head "
                                   f"(it is {other.type}{' with product_of' if other.type == 'binary' else ''})")
        source = getattr(task, "condition_on", None)
        if source is not None:
            other = next((t for t in tasks if t.name == source), None)
            if source == task.name or other is None:
                names = [t.name for t in tasks if t.name != task.name]
                raise KeyPathError(f"tasks[{i}].condition_on", f"{source!r} is not another task; tasks: {', '.join(names)}")
            if other.type != "multiclass":
                names = [t.name for t in tasks if t.type == "multiclass"] or ["none in this config"]
                raise KeyPathError(f"tasks[{i}].condition_on", f"task {source!r} is {other.type}; a tagging task "
                                   f"conditions on a multiclass task's distribution (multiclass tasks: {', '.join(names)})")
        if getattr(task, "product_of", None) and task.tower:
            raise KeyPathError(f"tasks[{i}].tower", "a product_of task has no head of its own, so no tower")


def check_groups(config: Config) -> None:
    """``training.groups`` and the stages' ``freeze``/multipliers name parameter groups."""
    training = config.training
    groups = ["shared", *(t.name for t in config.tasks)]
    for key in training.groups:
        if key not in groups:
            raise KeyPathError(f"training.groups.{key}", f"not a parameter group; groups: {', '.join(groups)}")
    for i, stage in enumerate(training.stages):
        for j, key in enumerate(stage.freeze):
            if key not in groups:
                raise KeyPathError(f"training.stages[{i}].freeze[{j}]",
                                   f"{key!r} is not a parameter group; groups: {', '.join(groups)}")
        for key in stage.learning_rate_multipliers:
            if key not in groups:
                raise KeyPathError(f"training.stages[{i}].learning_rate_multipliers.{key}",
                                   f"not a parameter group; groups: {', '.join(groups)}")
        if stage.epochs is None and stage.steps is None and i < len(training.stages) - 1:
            raise KeyPathError(f"training.stages[{i}]", "only the last stage may omit epochs/steps")


def check_monitor(config: Config) -> None:
    """``training.early_stopping.monitor`` is a metric this config reports."""
    stop = config.training.early_stopping
    if stop is None or stop.monitor == "loss":
        return
    head, _, metric = stop.monitor.partition(".")
    task = next((t for t in config.tasks if t.name == head), None)
    allowed = ("accuracy", "loss", "mean_score") if head == "joint" else ((*task.metric_names, "loss") if task else ())
    if metric not in allowed:
        choices = ["loss", "joint.accuracy", "joint.loss", "joint.mean_score"] + [
            f"{t.name}.{m}" for t in config.tasks for m in (*t.metric_names, "loss")]
        raise KeyPathError("training.early_stopping.monitor",
                           f"{stop.monitor!r} is not a metric of this config; allowed: {', '.join(choices)}")

