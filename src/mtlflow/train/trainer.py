"""The multi-task training loop: a compiled ``tf.GradientTape`` step over masked task losses.

One call of the compiled ``train_function`` runs up to ``steps_per_execution`` steps,
pulling batches from the iterator inside the graph (as Keras ``fit`` does), so the
Python side only touches the loop once per execution: to update the progress bar,
check that every task loss is finite and write TensorBoard scalars.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mtlflow.config import TrainingConfig
from mtlflow.errors import TrainingError
from mtlflow.evaluate.evaluator import Evaluator
from mtlflow.evaluate.report import HEADLINE_METRICS
from mtlflow.train.checkpoint import model_checkpoint, restore
from mtlflow.train.early_stopping import improved, lookup, monitor_mode
from mtlflow.train.losses import task_losses, weighted_total
from mtlflow.train.optimizers import make_optimizer
from mtlflow.train.progress import Progress


@dataclass
class History:
    """What happened, epoch by epoch (JSON-ready)."""

    epochs: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_value: float | None = None
    stopped_early: bool = False
    resumed_from_epoch: int = 0


class Trainer:
    """Trains a multi-task Keras model on ``(inputs, labels, masks)`` batches.

    Args:
      model: a Keras model with one output per task (e.g. :func:`build_model`).
      tasks: ``{name: Task}``, in the model's output order.
      training: the ``training:`` config section.
      run_dir: where checkpoints and TensorBoard logs go (None: keep nothing on disk).
    """

    def __init__(self, model: keras.Model, tasks: dict, training: TrainingConfig, run_dir: str | Path | None = None):
        self.model, self.tasks, self.config = model, tasks, training
        self.weights = {name: float(task.spec.weight) for name, task in tasks.items()}
        self.optimizer = make_optimizer(training)
        self.optimizer.build(model.trainable_variables)
        self.evaluator = Evaluator(model, tasks, self.weights)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        self.best = tf.Variable(math.nan, dtype=tf.float64, trainable=False, name="best")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self.train_function = tf.function(self._train_execution)
        self._checkpoint = model_checkpoint(model, self.optimizer, epoch=self.epoch, best=self.best, wait=self.wait)
        self._managers = None
        if self.run_dir is not None:
            root = self.run_dir / "checkpoints"
            self._managers = (
                tf.train.CheckpointManager(self._checkpoint, root / "last", training.keep_checkpoints),
                tf.train.CheckpointManager(model_checkpoint(model), root / "best", 1),
            )

    # ---- the compiled step -----------------------------------------------------------
    def train_step(self, inputs, labels, masks):
        """One optimisation step; returns ``{task: loss}``."""
        with tf.GradientTape() as tape:
            predictions = self.model(inputs, training=True)
            losses = task_losses(self.tasks, predictions, labels, masks)
            total = weighted_total(losses, self.weights)
        variables = self.model.trainable_variables
        gradients = tape.gradient(total, variables)
        self.optimizer.apply_gradients(zip(gradients, variables))
        return losses

    def _train_execution(self, iterator):
        """Up to ``steps_per_execution`` steps; returns summed task losses and the step count."""
        if self.config.steps_per_execution == 1:
            # One step needs no in-graph loop: a one-iteration tf.range loop around the step
            # made each step ~5% slower (BENCHMARKS.md, "Train step").
            batch = iterator.get_next_as_optional()
            if batch.has_value():
                return self.train_step(*batch.get_value()), tf.constant(1)
            return {name: tf.constant(0.0) for name in self.tasks}, tf.constant(0)
        sums = {name: tf.constant(0.0) for name in self.tasks}
        steps = tf.constant(0)
        for _ in tf.range(self.config.steps_per_execution):
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            losses = self.train_step(*batch.get_value())
            sums = {name: sums[name] + losses[name] for name in self.tasks}
            steps += 1
        return sums, steps

    # ---- checkpoints -----------------------------------------------------------------
    def restore(self) -> int:
        """Restores the latest checkpoint of ``run_dir``; returns the epoch to resume at."""
        if self._managers is None or self._managers[0].latest_checkpoint is None:
            return 0
        restore(self._checkpoint, self._managers[0].latest_checkpoint)
        return int(self.epoch.numpy())

    def restore_best(self) -> bool:
        if self._managers is None or self._managers[1].latest_checkpoint is None:
            return False
        restore(model_checkpoint(self.model), self._managers[1].latest_checkpoint)
        return True

    # ---- the epoch loop --------------------------------------------------------------
    def fit(self, train, validation=None, *, resume: bool = False, verbose: bool = True,
            bucket_boundaries: list[int] | None = None) -> History:
        """Trains for ``training.epochs`` epochs with early stopping on ``validation``.

        ``train`` and ``validation`` are :class:`~mtlflow.data.dataset.SplitData` (epoch
        ``e`` shuffles with seed ``training.seed + e``, so resuming gives the batches an
        uninterrupted run would have seen) or ``tf.data.Dataset`` of batched
        ``(inputs, labels, masks)``, iterated as given once per epoch.
        """
        cfg = self.config
        history = History()
        start = self.restore() if resume else 0
        history.resumed_from_epoch = start
        stop = cfg.early_stopping if validation is not None else None
        mode = monitor_mode(stop.monitor, stop.mode) if stop else None
        writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard")) if self.run_dir else None
        steps_per_epoch = _steps_per_epoch(train, cfg.batch_size, bucket_boundaries)
        if stop and int(self.wait.numpy()) >= stop.patience:  # a resumed run that had already stopped
            history.stopped_early = True
            start = cfg.epochs
        for epoch in range(start, cfg.epochs):
            began = time.perf_counter()
            batches = _epoch_batches(train, cfg.batch_size, cfg.seed + epoch, bucket_boundaries)
            losses = self._run_epoch(iter(batches), epoch, steps_per_epoch, verbose)
            record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - began, 3),
                      "train_loss": losses}
            if validation is not None:
                record["validation"] = self.evaluator.evaluate(_epoch_batches(validation, cfg.batch_size))
                if self.evaluator.gates:
                    record["gates"] = {t: [round(float(w), 4) for w in g] for t, g in self.evaluator.gates.items()}
            self.epoch.assign(epoch + 1)
            better = False
            if stop:
                value = lookup(record["validation"], stop.monitor)
                best = None if math.isnan(self.best.numpy()) else float(self.best.numpy())
                better = improved(value, best, mode, stop.min_delta)
                if better:
                    self.best.assign(value)
                    self.wait.assign(0)
                    history.best_epoch, history.best_value = epoch + 1, value
                else:
                    self.wait.assign_add(1)
            history.epochs.append(record)
            self._save(better or stop is None)
            _log_epoch(writer, record, self.weights)
            if verbose:
                print(_epoch_line(record, cfg.epochs, stop.monitor if stop and better else None), flush=True)
            if stop and int(self.wait.numpy()) >= stop.patience:
                history.stopped_early = True
                break
        if stop and history.best_epoch is None and not math.isnan(self.best.numpy()):
            history.best_value = float(self.best.numpy())
        if self._managers is not None and self._managers[1].latest_checkpoint is None:
            # the monitor never gave a number (e.g. NaN): keep the last weights as "best"
            self._managers[1].save(checkpoint_number=int(self.epoch.numpy()))
        self.restore_best()
        return history

    def _run_epoch(self, iterator, epoch: int, steps_per_epoch: int | None, verbose: bool) -> dict:
        progress = Progress(steps_per_epoch, f"epoch {epoch + 1}/{self.config.epochs}", enabled=verbose)
        totals = dict.fromkeys(self.tasks, 0.0)
        done = 0
        while True:
            sums, steps = self.train_function(iterator)
            steps = int(steps)
            if steps == 0:
                break
            sums = {name: float(value) for name, value in sums.items()}
            for name, value in sums.items():
                if not math.isfinite(value):
                    raise TrainingError(
                        f"task {name!r}: loss became {value} in epoch {epoch + 1} near step {done + steps}; "
                        f"training stopped and the last good checkpoint is kept"
                        f"{' in ' + str(self.run_dir / 'checkpoints') if self.run_dir else ''}. "
                        "Lower training.learning_rate, set training.clip_norm, or check the labels"
                    )
                totals[name] += value
            done += steps
            progress.update(done, {name: totals[name] / done for name in self.tasks})
        progress.close()
        return {name: totals[name] / max(done, 1) for name in self.tasks}

    def _save(self, best: bool) -> None:
        if self._managers is None:
            return
        last, best_manager = self._managers
        if best:
            best_manager.save(checkpoint_number=int(self.epoch.numpy()))
        last.save(checkpoint_number=int(self.epoch.numpy()))


def _log_epoch(writer, record: dict, weights: dict) -> None:
    if writer is None:
        return
    step = record["epoch"]
    with writer.as_default():
        for name, value in record["train_loss"].items():
            tf.summary.scalar(f"{name}/train_loss", value, step=step)
            tf.summary.scalar(f"{name}/weight", weights[name], step=step)
        for name, metrics in record.get("validation", {}).items():
            for metric, value in metrics.items():
                if isinstance(value, (int, float)) and metric != "count":
                    tf.summary.scalar(f"{name}/validation_{metric}", value, step=step)
        for name, weights in record.get("gates", {}).items():
            for i, weight in enumerate(weights):
                tf.summary.scalar(f"{name}/gate_expert_{i}", weight, step=step)
    writer.flush()


def _epoch_batches(data, batch_size: int, seed: int | None = None, buckets=None) -> tf.data.Dataset:
    if isinstance(data, tf.data.Dataset):
        return data
    return data.batches(batch_size, shuffle_seed=seed, bucket_boundaries=buckets)


def _steps_per_epoch(data, batch_size: int, buckets) -> int | None:
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        return steps if steps > 0 else None
    return None if buckets else math.ceil(data.size / batch_size)


def _epoch_line(record: dict, epochs: int, improved_monitor: str | None) -> str:
    losses = " ".join(f"{k}={v:.4f}" for k, v in record["train_loss"].items())
    line = f"epoch {record['epoch']}/{epochs} ({record['seconds']:.1f}s) train loss: {losses}"
    validation = record.get("validation")
    if validation:
        parts = []
        for name, metrics in validation.items():
            headline = next((k for k in HEADLINE_METRICS if k in metrics), None)
            if headline is not None and metrics[headline] is not None:
                parts.append(f"{name}.{headline}={metrics[headline]:.4f}")
        line += " | validation: " + " ".join(parts)
    if improved_monitor:
        line += f" (best {improved_monitor} so far: kept)"
    return line
