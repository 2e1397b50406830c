"""A run directory: train from a config, reload, evaluate, predict and export.

Layout of ``RUN_DIR``::

    config.yaml          the validated config, data paths made absolute
    state.json           label inventories and statistics of every task
    vocab.json           text vocabulary, categorical values, numeric statistics
    data_report.json     rows read; every skipped row and masked label, with its file:line
    history.json         per-epoch losses and validation metrics (written after every epoch)
    training_curves.png  the same as a plot
    metrics.json/.md     per-task and joint metrics on the test split
    checkpoints/last/    for --resume;  checkpoints/best/  the weights kept
    tensorboard/         scalars per task
    export/<version>/    the SavedModel (TF Serving layout)

Every file is written atomically (:mod:`mtlflow.files`), so a run killed at any moment
leaves each file whole, old or new; ``--resume`` removes what killed checkpoint saves and
exports left behind and says where it resumes.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import yaml

from mtlflow.config import Config, load_config, parse_config, resolve
from mtlflow.data.dataset import SplitData
from mtlflow.data.encode import EncodedSplit, encode_table, fit_tasks
from mtlflow.data.readers import read_table
from mtlflow.data.table import Table
from mtlflow.data.token_check import settle_tokenizer
from mtlflow.data.vocabulary import Vocabularies, fit_vocabularies
from mtlflow.errors import ConfigError, MtlflowError
from mtlflow.files import read_json, replacing, write_json_atomic, write_text_atomic
from mtlflow.evaluate.plots import plot_history
from mtlflow.evaluate.report import write_metrics
from mtlflow.tasks import Task, create_task


@dataclass
class Run:
    """A trained (or reloaded) model with everything needed to use it."""

    directory: Path
    config: Config
    tasks: dict[str, Task]
    vocab: Vocabularies
    model: object
    preprocessor: object
    trainer: object = None  # the Trainer, for a run trained in this process
    gates: dict | None = None  # expert utilisation of the last evaluation (gated sharing only)

    def inference(self):
        from mtlflow.export.inference import InferenceModule

        return InferenceModule(self.preprocessor, self.model, self.tasks)

    def split_data(self, split: EncodedSplit) -> SplitData:
        return SplitData(split, self.preprocessor, self.tasks)


def absolute_config(config: Config, config_dir: Path) -> Config:
    """A copy whose data paths are absolute (so the run dir works from anywhere)."""
    data = config.data.model_copy(update={
        key: str(resolve(config_dir, getattr(config.data, key)).resolve())
        for key in ("train", "validation", "test") if getattr(config.data, key) is not None
    })
    update = {"data": data}
    if config.encoder.path is not None:
        update["encoder"] = config.encoder.model_copy(update={"path": str(resolve(config_dir, config.encoder.path).resolve())})
    return config.model_copy(update=update)


def read_config_table(config: Config, path: str) -> Table:
    """One split's rows as the config's ``data`` section says (format, bad rows, ``max_rows``)."""
    table = read_table(path, config.data.format, on_bad_row=config.data.on_bad_row, quotes=config.data.quotes)
    if config.data.max_rows is not None and len(table.rows) > config.data.max_rows:
        table.rows = table.rows[: config.data.max_rows]
        table.locations = table.locations[: config.data.max_rows]
    return table


def read_split(config: Config, path: str, tasks: dict[str, Task], name: str) -> EncodedSplit:
    return encode_table(read_config_table(config, path), config, tasks, name)


def _holdout(split: EncodedSplit, fraction: float, seed: int) -> tuple[EncodedSplit, EncodedSplit]:
    """Splits off a seeded ``fraction`` of ``split`` as validation data."""
    order = np.random.default_rng(seed).permutation(len(split))
    cut = max(1, int(round(len(split) * fraction)))

    def pick(idx: np.ndarray, name: str, issues: dict) -> EncodedSplit:
        return EncodedSplit(
            name=name,
            features={k: v[idx] for k, v in split.features.items()},
            labels={k: ([v[i] for i in idx] if isinstance(v, list) else v[idx]) for k, v in split.labels.items()},
            masks={k: v[idx] for k, v in split.masks.items()},
            locations=[split.locations[i] for i in idx],
            issues=issues,
        )

    held_out = {"rows": cut, "held_out_from": "train", "fraction": fraction, "seed": seed}
    return pick(np.sort(order[cut:]), "train", split.issues), pick(np.sort(order[:cut]), "validation", held_out)


def read_splits(config: Config, tasks: dict[str, Task], previous_run: Path | None = None,
                train_table: Table | None = None):
    """Train, validation and test splits, encoded; fits the tasks' label codecs on train.

    ``previous_run``: a run being resumed, whose label inventories are kept.
    ``train_table``: the training table when already read (and its tokenizer settled, see
    :func:`settle_config_tokenizer`); otherwise it is read and checked here.
    """
    if train_table is None:
        train_table = read_config_table(config, config.data.train)
        if config.inputs.text:
            settle_tokenizer(train_table, config.inputs.text.tokenizer, explicit=True,
                             lowercase=config.inputs.text.lowercase, column=config.inputs.text.column)
    fit_tasks(train_table, config, tasks)
    if previous_run is not None:
        _load_task_state(tasks, previous_run)
    train_split = encode_table(train_table, config, tasks, "train")
    validation_split = None
    if config.data.validation:
        validation_split = read_split(config, config.data.validation, tasks, "validation")
    elif config.data.validation_split > 0:
        train_split, validation_split = _holdout(train_split, config.data.validation_split, config.training.seed)
    test_split = read_split(config, config.data.test, tasks, "test") if config.data.test else None
    return train_split, validation_split, test_split


def settle_config_tokenizer(config: Config, train_table: Table) -> tuple[Config, str | None]:
    """``config`` with the tokenizer that reproduces the training tokens (see :mod:`mtlflow.data.token_check`).

    Returns the config (a copy when the default tokenizer was replaced) and the note
    saying so, or raises a ``DataError`` naming the tokenizer to set.
    """
    text = config.inputs.text
    if text is None:
        return config, None
    chosen, note = settle_tokenizer(train_table, text.tokenizer, explicit="tokenizer" in text.model_fields_set,
                                    lowercase=text.lowercase, column=text.column)
    if chosen == text.tokenizer:
        return config, note
    inputs = config.inputs.model_copy(update={"text": text.model_copy(update={"tokenizer": chosen})})
    return config.model_copy(update={"inputs": inputs}), note


def resume_point(run_dir: Path, config: Config) -> dict:
    """Where ``--resume`` continues ``run_dir``: the last checkpoint's epoch and step, and whether anything is left.

    Returns ``{"checkpoint", "epoch", "step", "finished_training", "stopped_early", "complete"}``;
    ``complete``: training, evaluation and export all finished (``history.json`` says so).
    """
    from mtlflow.train.checkpoint import latest, progress

    prefix = latest(run_dir / "checkpoints" / "last")
    if prefix is None:
        return {"checkpoint": None, "epoch": 0, "step": 0, "finished_training": False, "stopped_early": False,
                "complete": False}
    counters = progress(prefix)
    epoch = counters.get("epoch", 0)
    stop = config.training.early_stopping
    has_validation = bool(config.data.validation) or config.data.validation_split > 0
    stopped_early = stop is not None and has_validation and counters.get("wait", 0) >= stop.patience
    finished = epoch >= config.training.epochs or stopped_early
    history = run_dir / "history.json"
    complete = finished and history.is_file() and bool(
        _read_run_json(history).get("complete", _legacy_complete(run_dir, config)))
    return {"checkpoint": prefix, "epoch": epoch, "step": counters.get("step", 0),
            "finished_training": finished, "stopped_early": stopped_early, "complete": complete}


def _legacy_complete(run_dir: Path, config: Config) -> bool:
    """For runs written before ``history.json`` said ``complete``: evaluated, or exported."""
    from mtlflow.export.publish import complete_versions

    base = run_dir / config.export.base_dir if config.export.base_dir else None
    return (run_dir / "metrics.json").is_file() or bool(base is not None and complete_versions(base))


def _resume_line(run_dir: Path, point: dict, epochs: int) -> str:
    if point["checkpoint"] is None:
        return f"resuming {run_dir}: no checkpoint was saved yet, so training starts at epoch 1 of {epochs}"
    if point["finished_training"]:
        why = "stopped early" if point["stopped_early"] else f"reached epoch {point['epoch']} of {epochs}"
        return (f"resuming {run_dir}: training already {why} (step {point['step']}); finishing what the "
                "interrupted run did not: evaluation and export")
    return (f"resuming {run_dir} at epoch {point['epoch'] + 1} of {epochs}, after step {point['step']} "
            f"(checkpoint {point['checkpoint']})")


def train(config_path: str | Path, out: str | Path | None = None, *, resume: bool = False,
          verbose: bool = True, export: bool = True, profile: str | None = None,
          transform: str | Path | None = None, overrides: Sequence[str] = ()) -> tuple[Run, dict]:
    """Trains the config's model into a run directory; returns the run and test metrics.

    ``profile``: a name under the config's ``profiles`` whose overrides apply (e.g. ``smoke``).
    ``overrides``: ``KEY=VALUE`` settings applied after the profile (``mtlflow train --set``,
    see :mod:`mtlflow.config.overrides`), e.g. ``["training.epochs=2"]``.
    ``transform``: a directory with ``vocab.json`` and ``state.json`` fitted on the training
    split beforehand (``mtlflow pipeline``'s transform stage), used as they are instead of
    being fitted here, so the model trains and serves with that one transformation.
    """
    from mtlflow.train.distribution import (is_chief, make_strategy, peer_failures, read_tf_config, worker_directory,
                                            worker_role)

    config_path = Path(config_path)
    config = absolute_config(load_config(config_path, profile, overrides), config_path.parent)
    run_dir = Path(out) if out else Path("runs") / f"{config_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (run_dir / "checkpoints").exists() and not resume:
        raise MtlflowError(f"{run_dir}: run directory already holds a run; pass --resume to continue it or pick another --out")

    strategy = make_strategy(config.training.distribution)  # before TensorFlow runs any op
    if resume:
        point = resume_point(run_dir, config)
        if point["complete"]:
            if verbose:
                why = "stopped early" if point["stopped_early"] else f"trained all {point['epoch']} epochs"
                print(f"mtlflow: nothing left to train: {run_dir} {why} (step {point['step']}) and its run "
                      f"finished; raise training.epochs to train on, or `mtlflow export {run_dir} BASE` "
                      "to export again")
            metrics_path = run_dir / "metrics.json"
            return load_run(run_dir), (_read_run_json(metrics_path) if metrics_path.is_file() else {})
        if verbose:
            print(f"mtlflow: {_resume_line(run_dir, point, config.training.epochs)}")
    # Multi-worker: every worker runs all of it (each collective needs them all), but only
    # the chief writes run_dir; the others write a scratch directory, deleted afterwards.
    with peer_failures(strategy), worker_directory(run_dir, strategy, resume=resume) as write_dir:
        run, metrics = _train_into(write_dir, config, strategy, run_dir if resume else None,
                                   verbose=verbose, export=export,
                                   transform=Path(transform) if transform is not None else None)
    run.directory = run_dir
    if verbose and not is_chief(strategy):
        role = worker_role(read_tf_config())
        print(f"mtlflow: {role.task_type} {role.task_index} of {role.num_workers} workers trained in step with the "
              f"chief, which wrote the run directory; this worker kept nothing")
    return run, metrics


def _train_into(run_dir: Path, config: Config, strategy, resume_from: Path | None, *,
                verbose: bool, export: bool, transform: Path | None = None) -> tuple[Run, dict]:
    """The body of :func:`train`: writes ``run_dir``; ``resume_from``: the run dir resumed."""
    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.train.trainer import Trainer

    resume = resume_from is not None
    log = print if verbose else (lambda *a, **k: None)
    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    previous = resume_from if resume and (resume_from / "state.json").exists() else None
    previous = previous or transform  # fitted beforehand: label inventories and vocabularies
    for name in ("vocab.json", "state.json") if previous is not None else ():
        if not (previous / name).is_file():
            raise MtlflowError(f"{previous}: no {name}; the fitted transformation is incomplete")
    train_table = read_config_table(config, config.data.train)
    config, tokenizer_note = settle_config_tokenizer(config, train_table)
    if tokenizer_note:
        log(f"mtlflow: {tokenizer_note}")
    train_split, validation_split, test_split = read_splits(config, tasks, previous, train_table)
    vocab = Vocabularies.load(previous / "vocab.json") if previous \
        else fit_vocabularies(train_split.features, config.inputs, config.encoder)
    run_dir.mkdir(parents=True, exist_ok=True)  # only once the data has been read without error
    for leftover in _remove_leftovers(run_dir, config) if resume else ():
        log(f"mtlflow: removed {leftover}, left by an interrupted save")
    notes = {"tokenizer": {"used": config.inputs.text.tokenizer, "note": tokenizer_note}} if tokenizer_note else {}
    _save_run_files(run_dir, config, tasks, vocab, [train_split, validation_split, test_split], notes)
    for split in (train_split, validation_split, test_split):
        for line in _issue_lines(split):
            log(f"mtlflow: {line}")
    log(f"mtlflow: {len(train_split)} training examples, "
        f"{len(validation_split) if validation_split else 0} validation, {len(test_split) if test_split else 0} test; "
        f"tasks: {', '.join(f'{n} ({t.type_name})' for n, t in tasks.items())}")

    preprocessor = Preprocessor(config.inputs, vocab, config.encoder)
    if strategy is not None:
        with strategy.scope():
            model = build_model(config, vocab, tasks)
    else:
        model = build_model(config, vocab, tasks)
    run = Run(run_dir, config, tasks, vocab, model, preprocessor)
    trainer = Trainer(model, tasks, config.training, run_dir, strategy=strategy)
    run.trainer = trainer
    validation_data = run.split_data(validation_split) if validation_split else None
    history_path = run_dir / "history.json"
    earlier = _read_run_json(history_path).get("epochs", []) if resume and history_path.is_file() else []

    def write_history(history, complete: bool = False) -> dict:
        """history.json: the epochs before the resume point, this run's, and whether the run is done."""
        record = asdict(history)
        record["epochs"] = [e for e in earlier if e["epoch"] <= history.resumed_from_epoch] + record["epochs"]
        record["complete"] = complete
        write_json_atomic(history_path, record, default=float, ensure_ascii=True)
        return record

    history = trainer.fit(
        run.split_data(train_split), validation_data,
        resume=resume, verbose=verbose, bucket_boundaries=config.data.bucket_boundaries,
        on_epoch_end=write_history,
    )
    record = write_history(history)
    with replacing(run_dir / "training_curves.png") as tmp:
        plot_history(record, tmp)

    final_data = run.split_data(test_split) if test_split else validation_data
    metrics = {}
    if final_data is not None:
        metrics = trainer.evaluator.evaluate(final_data.batches(config.training.batch_size), final_data.unseen)
        write_metrics(metrics, run_dir)
        _report_gates(run, trainer.evaluator.gates, log)
    if export and config.export.base_dir:
        export_run(run, run_dir / config.export.base_dir, metrics=metrics)
    write_history(history, complete=True)
    return run, metrics


def _remove_leftovers(run_dir: Path, config: Config) -> list[str]:
    """Staging directories an interrupted run left: checkpoint saves (``ckpt-N_temp``) and dead exports."""
    from mtlflow.export.publish import remove_abandoned_staging
    from mtlflow.train.checkpoint import remove_partial_saves

    removed = [f"checkpoints/{name}" for name in remove_partial_saves(run_dir / "checkpoints")]
    if config.export.base_dir:
        base = run_dir / config.export.base_dir
        removed += [f"{base.name}/{name}" for name in remove_abandoned_staging(base)]
    return removed


def _read_run_json(path: Path):
    """A run file's JSON; a damaged file raises an error naming it (not a raw JSONDecodeError)."""
    fixes = {
        "history.json": "delete it to resume without the earlier epochs' history",
        "metrics.json": "run `mtlflow evaluate` on the run to compute the metrics again",
    }
    return read_json(path, fixes.get(path.name, "train the run again (the file is part of the trained model)"))


def _issue_lines(split: EncodedSplit | None) -> list[str]:
    """Human-readable counts of what a split masked or skipped (nothing silent)."""
    if split is None or "labels" not in split.issues:
        return []
    lines = []
    skipped = split.issues["skipped_rows"]
    if skipped:
        lines.append(f"{split.name}: skipped {len(skipped)} bad rows (first: {skipped[0]['location']}: "
                     f"{skipped[0]['reason'].removeprefix(skipped[0]['location'] + ': ')}; every one is listed in "
                     "data_report.json)")
    for task, counts in split.issues["labels"].items():
        if counts["missing"]:
            lines.append(f"{split.name}: {counts['missing']} rows without a {task!r} label (masked for that task; "
                         "listed in data_report.json)")
        unseen = split.unseen.describe(task)
        if unseen:
            lines.append(unseen)
        cut = split.unseen.describe_past_max_length(task)
        if cut:
            lines.append(cut)
        other_bad = counts["bad"] - len(split.unseen.gold.get(task, {}))
        if other_bad:
            lines.append(f"{split.name}: {other_bad} bad {task!r} labels masked (first: {counts['messages'][0]})")
        if counts.get("filtered"):
            lines.append(f"{split.name}: {counts['filtered']} {task!r} labels outside its `where` rows (masked for that task)")
    return lines


def _save_run_files(run_dir: Path, config: Config, tasks, vocab: Vocabularies, splits, notes: dict) -> None:
    write_text_atomic(run_dir / "config.yaml", yaml.safe_dump(
        config.model_dump(mode="json", exclude_defaults=False), allow_unicode=True, sort_keys=False))
    write_json_atomic(run_dir / "state.json", {n: t.state() for n, t in tasks.items()})
    vocab.save(run_dir / "vocab.json")
    if config.encoder.type == "pretrained":  # the run dir rebuilds the encoder without the original folder
        from mtlflow.model.pretrained import copy_without_weights

        copy_without_weights(config.encoder.path, run_dir / "encoder")
    report = {**notes, **{s.name: s.issues for s in splits if s is not None}}
    write_json_atomic(run_dir / "data_report.json", report)


def _load_task_state(tasks: dict[str, Task], run_dir: Path) -> None:
    state = _read_run_json(run_dir / "state.json")
    for name, task in tasks.items():
        task.load_state(state[name])


def load_run(run_dir: str | Path) -> Run:
    """Rebuilds a trained run's model from its directory (best checkpoint)."""
    import tensorflow as tf

    from mtlflow.model.build import build_model
    from mtlflow.model.preprocessor import Preprocessor
    from mtlflow.train.checkpoint import model_checkpoint, restore

    run_dir = Path(run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise MtlflowError(f"{run_dir}: not a run directory (no config.yaml); train one with `mtlflow train CONFIG --out {run_dir}`")
    try:
        raw = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{run_dir / 'config.yaml'}: not valid YAML ({str(error).splitlines()[0]}); the file is "
                          "damaged, e.g. by a process killed while writing it; train the run again") from None
    config = parse_config(raw, str(run_dir / "config.yaml"))
    tasks = {spec.name: create_task(spec) for spec in config.tasks}
    _load_task_state(tasks, run_dir)
    vocab = Vocabularies.load(run_dir / "vocab.json")
    if (run_dir / "encoder" / "config.json").is_file():  # weights come from the run's checkpoint
        config = config.model_copy(update={"encoder": config.encoder.model_copy(update={"path": str(run_dir / "encoder")})})
    model = build_model(config, vocab, tasks, pretrained_weights=False)
    best = tf.train.latest_checkpoint(str(run_dir / "checkpoints" / "best"))
    if best is None:
        raise MtlflowError(f"{run_dir}: no checkpoint in checkpoints/best; the run has not finished an epoch")
    restore(model_checkpoint(model), best)
    return Run(run_dir, config, tasks, vocab, model, Preprocessor(config.inputs, vocab, config.encoder))


def evaluate_run(run: Run, data: str | None = None, log=None) -> dict:
    """Metrics of ``run`` on ``data`` (default: the config's test split, else validation).

    ``log`` (e.g. ``print``) receives one line per kind of label masked or row skipped.
    """
    from mtlflow.evaluate.evaluator import Evaluator

    path = data or run.config.data.test or run.config.data.validation
    if path is None:
        raise MtlflowError("no evaluation data: pass --data FILE (the config has no test or validation split)")
    split = read_split(run.config, path, run.tasks, "evaluation")
    for line in _issue_lines(split) if log else ():
        log(f"mtlflow: {line}")
    weights = {n: t.spec.weight for n, t in run.tasks.items()}
    evaluator = Evaluator(run.model, run.tasks, weights)
    metrics = evaluator.evaluate(run.split_data(split).batches(run.config.training.batch_size), split.unseen)
    _report_gates(run, evaluator.gates, log)
    return metrics


def _report_gates(run: Run, gates: dict, log=None) -> None:
    """Summarises expert utilisation into ``run.gates`` and ``gates.{json,md,png}`` in the run dir."""
    if not gates:
        return
    from mtlflow.evaluate.gates import gates_markdown, plot_gates, summarise_gates
    from mtlflow.model.build import expert_names

    run.gates = summarise_gates(gates, expert_names(run.model, run.config, run.tasks))
    write_json_atomic(run.directory / "gates.json", run.gates, ensure_ascii=True)
    write_text_atomic(run.directory / "gates.md", gates_markdown(run.gates))
    with replacing(run.directory / "gates.png") as tmp:
        plot_gates(run.gates, tmp)
    if run.gates["unused"] and log:
        log(f"mtlflow: warning: experts no task uses: {', '.join(run.gates['unused'])} (see {run.directory / 'gates.md'})")


def _reference_features(run: Run) -> tuple[dict | None, str | None]:
    """Raw input columns of the split the model card's drift reference is computed on.

    The validation split (the file, or the seeded hold-out of train), else the test split;
    ``(None, reason)`` when neither can be read (the export then has no reference).
    """
    data = run.config.data
    try:
        if data.validation:
            return read_split(run.config, data.validation, run.tasks, "validation").features, "validation"
        if data.validation_split > 0 and data.train:
            train_split = read_split(run.config, data.train, run.tasks, "train")
            return _holdout(train_split, data.validation_split, run.config.training.seed)[1].features, "validation"
        if data.test:
            return read_split(run.config, data.test, run.tasks, "test").features, "test"
    except (MtlflowError, OSError) as exc:
        return None, f"no reference: {str(exc).splitlines()[0][:200]}"
    return None, "no reference: the config has no validation or test split"


def export_run(run: Run, base: str | Path, version: int | None = None, metrics: dict | None = None,
               card_extra: dict | None = None) -> Path:
    """Exports ``run`` as ``base/<version>/`` with a model card (see :mod:`mtlflow.export.model_card`).

    The card's drift reference is the model's output distribution on the validation split.
    ``card_extra``: more top-level card entries (e.g. the pipeline's ``{"pipeline": {...}}``).
    """
    from mtlflow.export.model_card import model_card
    from mtlflow.export.saved_model import export_saved_model

    if metrics is None and (run.directory / "metrics.json").exists():
        metrics = _read_run_json(run.directory / "metrics.json")
    module = run.inference()
    features, split = _reference_features(run)
    card = model_card(module, run.tasks, run.config.model_dump(mode="json"), metrics, features, split)
    return export_saved_model(module, base, version, {**card, **(card_extra or {})})
