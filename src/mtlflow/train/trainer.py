"""The multi-task training loop: epochs of a compiled step, validation, early stopping, checkpoints.

:class:`Trainer` wires the pieces of :mod:`mtlflow.train` together:

* :mod:`~mtlflow.train.step`: one optimisation step (forward pass, masked task losses,
  the balancer, per-group optimizers);
* :mod:`~mtlflow.train.execution`: the compiled function that runs ``steps_per_execution``
  steps with the batches pulled in-graph, on every replica under ``tf.distribute``;
* :mod:`~mtlflow.train.batches` and :mod:`~mtlflow.train.sharding`: an epoch's batches and
  their split across replicas and workers;
* :mod:`~mtlflow.train.balancer_factory`: ``training.balance`` → a balancer;
* :mod:`~mtlflow.train.tensorboard`, :mod:`~mtlflow.train.progress`: what an epoch reports;
* :mod:`~mtlflow.train.early_stopping`, :mod:`~mtlflow.train.checkpoint`: when to stop, what to keep.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import keras
import tensorflow as tf

from mtlflow import balance
from mtlflow.config import TrainingConfig
from mtlflow.errors import ConfigError, TrainingError
from mtlflow.evaluate.evaluator import Evaluator
from mtlflow.model.build import task_variables
from mtlflow.train.balancer_factory import make_balancer
from mtlflow.train.batches import epoch_batches
from mtlflow.train.batches import steps_per_epoch as count_steps
from mtlflow.train.checkpoint import last_good_checkpoint, model_checkpoint, restore, variables_by_path
from mtlflow.train.distribution import first_replica, gather_from_replicas, is_multi_worker
from mtlflow.train.early_stopping import improved, lookup, monitor_mode
from mtlflow.train.execution import distributed_step, run_steps
from mtlflow.train.gradient_stats import GradientStats
from mtlflow.train.groups import OptimizerGroups
from mtlflow.train.history import History
from mtlflow.train.layer_decay import layer_decay_groups
from mtlflow.train.progress import Progress, early_stopping_line, epoch_line
from mtlflow.train.sharding import distribute_batches
from mtlflow.train.step import StepOptions, TrainStep, weighted_gradient
from mtlflow.train.tensorboard import log_epoch
from mtlflow.train.weight_averaging import averaged_weights, keep_averages

# the names this module had before the split, still importable from here
_steps_per_epoch = count_steps
__all__ = ["History", "Trainer", "make_balancer", "weighted_gradient"]


class Trainer:
    """Trains a multi-task Keras model on ``(inputs, labels, masks)`` batches.

    Args:
      model: a Keras model with one output per task (e.g. :func:`build_model`).
      tasks: ``{name: Task}``, in the model's output order.
      training: the ``training:`` config section.
      run_dir: where checkpoints and TensorBoard logs go (None: keep nothing on disk).
    """

    def __init__(self, model: keras.Model, tasks: dict, training: TrainingConfig, run_dir: str | Path | None = None,
                 strategy: tf.distribute.Strategy | None = None):
        self.model, self.tasks, self.config = model, tasks, training
        self.strategy = strategy or tf.distribute.get_strategy()
        self._distributed = strategy is not None
        self._multi_worker = is_multi_worker(strategy)
        self.weights = {name: float(task.spec.weight) for name, task in tasks.items()}
        # tasks with weight 0 (e.g. ESMM's CVR tower) are reported but not trained directly
        self.trained = [name for name in tasks if self.weights[name] > 0]
        if not self.trained:
            raise ConfigError("tasks: every task has weight 0; give at least one task a positive weight")
        groups = task_variables(model, tasks)
        self.shared_variables = groups["shared"]
        scales = None
        if training.layer_decay is not None:
            groups, scales = layer_decay_groups(model, groups, training.layer_decay)
        self.representation_keys = [k for k in model.output if k.startswith("representation.")] \
            if training.balance.gradients == "representation" else []
        with self.strategy.scope(), tf.variable_creator_scope(first_replica):
            self.optimizers = OptimizerGroups(training, groups, scales)
            balancer = make_balancer(training, tasks, self.trained)
            self.balance_state = balance.StateVariables(balancer.init(len(self.trained)))
            self.stats = GradientStats(len(self.trained))
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self._step = TrainStep(model, {name: task.per_example_loss for name, task in tasks.items()}, self.trained,
                               StepOptions.from_training(training), shared_variables=self.shared_variables,
                               representation_keys=self.representation_keys, balancer=balancer,
                               balance_state=self.balance_state, stats=self.stats, optimizers=self.optimizers,
                               step_counter=self.step, epoch=self.epoch, distributed=self._distributed,
                               multi_worker=self._multi_worker)
        if not self.shared_variables and self.balancer.needs_gradients:
            raise ConfigError(f"training.balance.method: {training.balance.method!r} combines the tasks' gradients on "
                              "shared parameters, and this model shares none (sharing.type: none); "
                              "use a loss-level method (fixed, uncertainty, dwa, rlw)")
        self.optimizer = next(iter(self.optimizers.optimizers.values()))
        self.evaluator = Evaluator(model, tasks, self.weights)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.best = tf.Variable(math.nan, dtype=tf.float64, trainable=False, name="best")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self._functions: dict[tuple[bool, bool], tf.types.experimental.GenericFunction] = {}
        self._next_step: int | None = None  # the step counter, mirrored in Python
        self._checkpoint = tf.train.Checkpoint(
            model_variables=variables_by_path(model.variables),
            optimizer_variables=variables_by_path(self.optimizers.variables),
            balance=self.balance_state, epoch=self.epoch, step=self.step, best=self.best, wait=self.wait)
        self._managers = None
        if self.run_dir is not None:
            root = self.run_dir / "checkpoints"
            self._managers = (
                tf.train.CheckpointManager(self._checkpoint, root / "last", training.keep_checkpoints),
                tf.train.CheckpointManager(model_checkpoint(model), root / "best", 1),
            )

    # ---- the step (mtlflow.train.step) and its compiled driver ---------------------------
    @property
    def balancer(self):
        """The balancer the step uses (replaced by :meth:`fit` when DWA's period is an epoch)."""
        return self._step.balancer

    @balancer.setter
    def balancer(self, value) -> None:
        self._step.balancer = value

    def train_step(self, inputs, labels, masks, measured: bool = False):
        """One optimisation step (per replica); returns ``{task: loss}`` (global masked means).
        ``measured``: the step computes the per-task gradients (see :class:`TrainStep`)."""
        return self._step(inputs, labels, masks, measured=measured or self._step.always_measured)

    def train_function(self, iterator, steps: int | None = None):
        """Runs the next steps; returns ``({task: summed loss}, steps run)`` (0 steps: the
        iterator is exhausted).

        Up to ``steps_per_execution`` steps in one compiled call, fewer so that a step that
        needs the per-task gradients (diagnostics, ``every: k``) runs in a call of its own:
        the choice is made here, in Python, from the step counter, and picks one of the
        compiled functions (:meth:`compiled_functions`), so ordinary steps carry no per-task
        gradient work or collective. ``steps``: the iterator holds at least that many more
        batches (the rest of an epoch of known length): they are pulled without checking for
        the end of the data, as Keras ``fit`` does.
        """
        if self._next_step is None:
            self._next_step = int(self.step.numpy())
        limit = self.config.steps_per_execution if steps is None else min(self.config.steps_per_execution, steps)
        if limit < 1:
            return {name: tf.constant(0.0) for name in self.tasks}, 0
        until = self._step.steps_until_measured(self._next_step)
        measured = until == 0
        count = limit if until is None or self._step.always_measured else max(1, min(limit, until))
        known = steps is not None
        sums, ran = self._function(measured, known)(iterator, tf.constant(count))
        ran = count if known else int(ran)
        self._next_step += ran
        return sums, ran

    def compiled_functions(self) -> dict[tuple[bool, bool], object]:
        """The ``tf.function`` s built so far, by ``(measured, known count)``."""
        return dict(self._functions)

    def _function(self, measured: bool, known: bool):
        key = (measured, known)
        if key not in self._functions:
            loop = self.config.steps_per_execution > 1

            def step(batch):
                return distributed_step(self.strategy if self._distributed else None,
                                        lambda *b: self.train_step(*b, measured=measured), batch)

            if not self._distributed:
                # On one device the step is a function of its own inside the loop, as in Keras's
                # fit: its graph is optimised on its own, which made a step ~3% cheaper than
                # inlined in the loop. (Under tf.distribute, inside the tf.cond of a loop that
                # checks for the end of the data, TensorFlow 2.21 failed to feed such a nested
                # function: "You must feed a value for placeholder tensor".)
                step = tf.function(step)

            def execution(iterator, count):
                return run_steps(iterator, step, count, list(self.tasks), known=known, loop=loop)

            self._functions[key] = tf.function(execution)
        return self._functions[key]

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
            bucket_boundaries: list[int] | None = None, on_epoch_end=None) -> History:
        """Trains for ``training.epochs`` epochs with early stopping on ``validation``.

        ``train`` and ``validation`` are :class:`~mtlflow.data.dataset.SplitData` (epoch
        ``e`` shuffles with seed ``training.seed + e``, so resuming gives the batches an
        uninterrupted run would have seen) or ``tf.data.Dataset`` of batched
        ``(inputs, labels, masks)``, iterated as given once per epoch. ``on_epoch_end(history)``
        runs after each epoch, before its checkpoint is saved (the run writes ``history.json``).
        """
        cfg = self.config
        history = History()
        start = self.restore() if resume else 0
        if self._multi_worker:
            start = self._agreed_start(start)
        history.resumed_from_epoch = start
        stop = cfg.early_stopping if validation is not None else None
        mode = monitor_mode(stop.monitor, stop.mode) if stop else None
        writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard")) if self.run_dir else None
        steps_per_epoch = count_steps(train, cfg.batch_size, bucket_boundaries)
        if cfg.learning_rate_schedule != "constant" or cfg.warmup_fraction:
            if steps_per_epoch is None:
                raise TrainingError("training.learning_rate_schedule needs the number of steps per epoch; "
                                    "pass SplitData (not a tf.data.Dataset) or use a constant rate")
            self.optimizers.set_total_steps(steps_per_epoch * cfg.epochs)
        if cfg.balance.method == "dwa" and "period" not in cfg.balance.hyperparameters and steps_per_epoch:
            self.balancer = make_balancer(cfg, self.tasks, self.trained, steps_per_epoch=steps_per_epoch)
        if stop and int(self.wait.numpy()) >= stop.patience:  # a resumed run that had already stopped
            history.stopped_early = True
            start = cfg.epochs
        for epoch in range(start, cfg.epochs):
            began = time.perf_counter()
            batches = epoch_batches(train, cfg.batch_size, cfg.seed + epoch, bucket_boundaries)
            if self._distributed:
                batches = distribute_batches(self.strategy, batches, self._multi_worker)
            losses = self._run_epoch(iter(batches), epoch, steps_per_epoch, verbose)
            record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - began, 3),
                      "train_loss": losses, "balance": self.stats.read_and_reset(self.trained)}
            self.epoch.assign(epoch + 1)
            better = False
            # validated and kept as best: the moving average of the weights (training.ema_momentum)
            with averaged_weights(self.optimizers.pairs()):
                if validation is not None:
                    record["validation"] = self.evaluator.evaluate(epoch_batches(validation, cfg.batch_size),
                                                                   getattr(validation, "unseen", None))
                    if self.evaluator.gates:
                        record["gates"] = {t: [round(float(w), 4) for w in g] for t, g in self.evaluator.gates.items()}
                if stop:
                    value = lookup(record["validation"], stop.monitor)
                    if self._multi_worker:  # every worker evaluates; the chief's number decides for all
                        value = float(gather_from_replicas(self.strategy, value)[0])
                    best = None if math.isnan(self.best.numpy()) else float(self.best.numpy())
                    better = improved(value, best, mode, stop.min_delta)
                    if better:
                        self.best.assign(value)
                        self.wait.assign(0)
                        history.best_epoch, history.best_value = epoch + 1, value
                    else:
                        self.wait.assign_add(1)
                history.epochs.append(record)
                if on_epoch_end is not None:
                    on_epoch_end(history)
                self._save_best(better or stop is None)
            self._save_last()  # the weights training goes on from
            log_epoch(writer, record, self.weights)
            if verbose:
                print(epoch_line(record, cfg.epochs, stop.monitor if stop and better else None), flush=True)
            if stop and int(self.wait.numpy()) >= stop.patience:
                history.stopped_early = True
                break
        if stop and history.best_epoch is None and not math.isnan(self.best.numpy()):
            history.best_value = float(self.best.numpy())
        if self._managers is not None and self._managers[1].latest_checkpoint is None:
            # the monitor never gave a number (e.g. NaN): keep the last weights as "best"
            with averaged_weights(self.optimizers.pairs()):
                self._managers[1].save(checkpoint_number=int(self.epoch.numpy()))
        restored = self.restore_best()
        if not restored:  # nothing on disk: the model ends with the averaged weights, if any
            keep_averages(self.optimizers.pairs())
        if verbose and stop is not None:
            line = early_stopping_line(history, stop.monitor, stop.patience, self._best_epoch(history), restored)
            if line:
                print(line, flush=True)
        return history

    def _best_epoch(self, history: History) -> int | None:
        """The epoch whose weights are kept: this run's best, or (resumed) the best checkpoint's number."""
        if history.best_epoch is not None:
            return history.best_epoch
        latest = self._managers[1].latest_checkpoint if self._managers is not None else None
        return int(latest.rsplit("-", 1)[1]) if latest else None

    def _agreed_start(self, start: int) -> int:
        """The resume epoch, checked to be the same on every worker (else all stop together)."""
        starts = gather_from_replicas(self.strategy, float(start))
        if starts.min() != starts.max():
            raise TrainingError(
                f"--resume: the workers restored different epochs ({sorted(set(int(s) for s in starts))}); every "
                "worker must read the chief's run directory, on storage they all mount at the same path")
        return start

    def _run_epoch(self, iterator, epoch: int, steps_per_epoch: int | None, verbose: bool) -> dict:
        progress = Progress(steps_per_epoch, f"epoch {epoch + 1}/{self.config.epochs}", enabled=verbose,
                            examples_per_step=self.config.batch_size)
        totals = dict.fromkeys(self.tasks, 0.0)
        done = 0
        self._next_step = None  # read the step counter again (restored, or moved by other calls)
        while True:
            remaining = None if steps_per_epoch is None else steps_per_epoch - done
            try:
                sums, steps = self.train_function(iterator, remaining)
            except tf.errors.OutOfRangeError:  # fewer batches than counted: the epoch ends here
                self._next_step = None
                break
            if steps == 0:
                break
            sums = {name: float(value) for name, value in sums.items()}
            for name, value in sums.items():
                if not math.isfinite(value):
                    raise TrainingError(
                        f"task {name!r}: loss became {value} in epoch {epoch + 1} near step {done + steps}; "
                        f"training stopped and {last_good_checkpoint(self.run_dir)}. "
                        "Lower training.learning_rate, set training.clip_norm, or check the labels"
                    )
                totals[name] += value
            done += steps
            progress.update(done, {name: totals[name] / done for name in self.tasks})
        progress.close()
        return {name: totals[name] / max(done, 1) for name in self.tasks}

    def _save_best(self, better: bool) -> None:
        if self._managers is not None and better:
            self._managers[1].save(checkpoint_number=int(self.epoch.numpy()))

    def _save_last(self) -> None:
        if self._managers is not None:
            self._managers[0].save(checkpoint_number=int(self.epoch.numpy()))
