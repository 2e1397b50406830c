"""The multi-task training loop: a compiled ``tf.GradientTape`` step over masked task losses.

One call of the compiled ``train_function`` runs up to ``steps_per_execution`` steps,
pulling batches from the iterator inside the graph (as Keras ``fit`` does), so the
Python side only touches the loop once per execution: to update the progress bar,
check that every task loss is finite and write TensorBoard scalars.

A step (:meth:`Trainer.train_step`):

1. forward pass; per task the masked mean loss ``L_t`` over the *global* batch (under
   ``tf.distribute`` each replica contributes ``Σ_i m_i ℓ_i / Σ_global m``);
2. the balancer (:mod:`mtlflow.balance`) turns the losses — and, when it needs them, the
   per-task gradients ``G = [∇_θs L_t]`` of the shared parameters θs, summed over replicas —
   into task weights and a combined shared gradient. ``G`` costs one backward pass per
   task through the shared trunk, so it is computed only when the balancer needs it, on
   diagnostics steps, or with ``task_clip_norm``;
3. task-specific parameters get ``∇ Σ_t w_t L_t``; gradient centralization, global-norm
   clipping, then each parameter group's optimizer (with its stage's freezing and
   learning-rate multiplier).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from mtlflow import balance
from mtlflow.config import TrainingConfig
from mtlflow.errors import ConfigError, TrainingError
from mtlflow.evaluate.evaluator import Evaluator
from mtlflow.evaluate.report import HEADLINE_METRICS
from mtlflow.model.build import task_variables
from mtlflow.train import gradients as G
from mtlflow.train.checkpoint import model_checkpoint, restore, variables_by_path
from mtlflow.train.distribution import gather_from_replicas, is_multi_worker
from mtlflow.train.early_stopping import improved, lookup, monitor_mode
from mtlflow.train.gradient_stats import GradientStats
from mtlflow.train.losses import masked_mean
from mtlflow.train.groups import OptimizerGroups
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
        self.representation_keys = [k for k in model.output if k.startswith("representation.")] \
            if training.balance.gradients == "representation" else []
        with self.strategy.scope(), tf.variable_creator_scope(_first_replica):
            self.optimizers = OptimizerGroups(training, groups)
            self.balancer = make_balancer(training, tasks, self.trained)
            self.balance_state = balance.StateVariables(self.balancer.init(len(self.trained)))
            self.stats = GradientStats(len(self.trained))
            self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        if not self.shared_variables and self.balancer.needs_gradients:
            raise ConfigError(f"training.balance.method: {training.balance.method!r} combines the tasks' gradients on "
                              "shared parameters, and this model shares none (sharing.type: none); "
                              "use a loss-level method (fixed, uncertainty, dwa, rlw)")
        self.optimizer = next(iter(self.optimizers.optimizers.values()))
        self.evaluator = Evaluator(model, tasks, self.weights)
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.best = tf.Variable(math.nan, dtype=tf.float64, trainable=False, name="best")
        self.wait = tf.Variable(0, dtype=tf.int64, trainable=False, name="wait")
        self.train_function = tf.function(self._train_execution)
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

    # ---- the compiled step -----------------------------------------------------------
    @property
    def _computes_task_gradients(self) -> bool:
        cfg = self.config
        if not self.shared_variables:  # nothing shared (sharing.type: none): nothing to compare
            return False
        if self.representation_keys:
            return True
        return bool(self.balancer.needs_gradients or cfg.task_clip_norm or cfg.diagnostics_every)

    @property
    def _combines_task_gradients(self) -> bool:
        """Whether the update itself is built from the per-task gradients ``G``."""
        return bool(self.shared_variables and (self.balancer.needs_gradients or self.config.task_clip_norm))

    def _task_gradients_wanted(self, state):
        """Scalar bool: whether this step computes the per-task gradients ``G``."""
        cfg = self.config
        wanted = []
        if self.balancer.needs_gradients:
            wanted.append(self.balancer.wants_gradients(state) if self.balancer.wants_gradients
                          else tf.constant(True))
        if cfg.task_clip_norm:
            wanted.append(tf.constant(True))
        if cfg.diagnostics_every:
            wanted.append(tf.equal(self.step % cfg.diagnostics_every, 0))
        return tf.reduce_any(tf.stack(wanted))

    def train_step(self, inputs, labels, masks):
        """One optimisation step; returns ``{task: loss}`` (global masked means)."""
        cfg = self.config
        replicas = G.replicas_in_sync()
        with tf.GradientTape(persistent=self._computes_task_gradients) as tape:
            predictions = self.model(inputs, training=True)
            per_example = {name: task.per_example_loss(labels[name], predictions[name])
                           for name, task in self.tasks.items()}
            # every task's label count of the global batch (the means' denominators), in one all-reduce
            counts = G.all_reduce_sum(tf.stack([tf.reduce_sum(tf.cast(masks[n], tf.float32)) for n in self.tasks]))
            local = {name: masked_mean(loss, masks[name], tf.cast(counts[i], loss.dtype))
                     for i, (name, loss) in enumerate(per_example.items())}
        reported = G.all_reduce_sum(tf.stack([local[n] for n in self.tasks]))
        losses = tf.stack([reported[list(self.tasks).index(n)] for n in self.trained])
        state = self.balance_state.value()
        variables = self.model.trainable_variables
        shared = self.shared_variables
        shared_refs = {id(v) for v in shared}
        others = [v for v in variables if id(v) not in shared_refs]

        if self.representation_keys:
            result, new_state, by_variable = self._representation_step(
                tape, local, [predictions[k] for k in self.representation_keys], losses, state, shared, others)
        elif not self._combines_task_gradients:
            # The update needs one backward pass of Σ w_t L_t (sparse embedding gradients
            # stay sparse); per-task gradients, when diagnostics want them, only feed the
            # statistics, on their steps.
            result, new_state = self.balancer.update(losses=losses, gradients=None, state=state)
            grads = G.all_reduce_sum(_for_all_reduce(
                weighted_gradient(tape, local, self.trained, result.weights, variables), variables,
                self._multi_worker))
            by_variable = {id(v): g for v, g in zip(variables, grads)}
            if self._computes_task_gradients:
                wanted = self._task_gradients_wanted(state)
                self.stats.add_gradients(self._task_gradient_matrix(tape, local, shared, wanted), measured=wanted)
        else:
            wanted = self._task_gradients_wanted(state)
            matrix = self._task_gradient_matrix(tape, local, shared, wanted)
            result, new_state, weights, combined = self._combine(matrix, losses, state)

            def plain_gradients():  # one backward pass of Σ w_t L_t for every variable
                grads = weighted_gradient(tape, local, self.trained, weights, shared + others)
                return [G.dense(g, v) for g, v in zip(grads, shared + others)]

            def head_gradients():  # G has the shared part: only the task-specific rest
                grads = weighted_gradient(tape, local, self.trained, weights, others) if others else []
                return [tf.zeros_like(v) for v in shared] + [G.dense(g, v) for g, v in zip(grads, others)]

            reduced = G.all_reduce_sum(tf.cond(wanted, head_gradients, plain_gradients))
            plain, other_grads = reduced[:len(shared)], reduced[len(shared):]
            shared_grads = tf.cond(wanted, lambda: G.unflatten(combined, shared), lambda: list(plain))
            by_variable = {id(v): g for v, g in zip(shared, shared_grads)}
            by_variable.update({id(v): g for v, g in zip(others, other_grads)})
            self.stats.add_gradients(matrix, measured=wanted)
        del tape
        self.balance_state.assign(new_state)
        self.stats.add_weights(result.weights)
        # one row per embedding index, so that clipping sees the norm of the gradient itself
        grads = [G.deduplicate(by_variable[id(v)]) for v in variables]
        if cfg.gradient_centralization:
            grads = [G.centralize(g, v) for g, v in zip(grads, variables)]
        if cfg.clip_norm:
            present = [i for i, g in enumerate(grads) if g is not None]
            clipped, _ = tf.clip_by_global_norm([grads[i] for i in present], cfg.clip_norm)
            for i, g in zip(present, clipped):
                grads[i] = g
        if replicas > 1:  # Keras optimizers sum gradients over replicas: hand each its share
            grads = [_replica_share(g, replicas) for g in grads]
        self.optimizers.apply({id(v): g for v, g in zip(variables, grads)}, self.step, self.epoch,
                              synchronised=self._distributed)
        self.step.assign_add(1)
        return {name: reported[i] for i, name in enumerate(self.tasks)}

    def _train_execution(self, iterator):
        """Up to ``steps_per_execution`` steps; returns summed task losses and the step count."""
        if self.config.steps_per_execution == 1:
            # One step needs no in-graph loop: a one-iteration tf.range loop around the step
            # made each step ~5% slower (BENCHMARKS.md, "Train step").
            batch = iterator.get_next_as_optional()
            if batch.has_value():
                return self._distributed_step(batch.get_value()), tf.constant(1)
            return {name: tf.constant(0.0) for name in self.tasks}, tf.constant(0)
        sums = {name: tf.constant(0.0) for name in self.tasks}
        steps = tf.constant(0)
        for _ in tf.range(self.config.steps_per_execution):
            batch = iterator.get_next_as_optional()
            if not batch.has_value():
                break
            losses = self._distributed_step(batch.get_value())
            sums = {name: sums[name] + losses[name] for name in self.tasks}
            steps += 1
        return sums, steps

    def _task_gradient_matrix(self, tape, local, shared, wanted):
        """``G``: ``[T, P]`` per-task gradients of the shared parameters, summed over replicas,
        on steps where ``wanted`` (zeros otherwise). Nothing synchronises inside the
        ``tf.cond`` (tf.distribute forbids it): the branch computes this replica's part and
        the all-reduce runs after it."""
        size = sum(int(v.shape.num_elements()) for v in shared)
        return G.all_reduce_sum(tf.cond(
            wanted,
            lambda: tf.stack([G.flatten(tape.gradient(local[n], shared), shared) for n in self.trained]),
            lambda: tf.zeros([len(self.trained), size])))

    def _combine(self, matrix, losses, state):
        """Balancer over the per-task gradients: ``(result, new state, weights, combined shared gradient)``."""
        if self.config.task_clip_norm:
            matrix = G.clip_rows(matrix, self.config.task_clip_norm)
        result, new_state = self.balancer.update(
            losses=losses, gradients=matrix if self.balancer.needs_gradients else None, state=state)
        weights = tf.stop_gradient(result.weights)
        combined = result.shared_gradient if result.shared_gradient is not None \
            else tf.linalg.matvec(matrix, weights, transpose_a=True)
        return result, new_state, weights, combined

    def _representation_step(self, tape, local, representations, losses, state, shared, others):
        """Per-task gradients on the shared representation ``z`` (``[T, Σ size(z)]``, this
        replica's examples), combined there; the result is back-propagated through the
        encoder once. Shared variables above ``z`` (e.g. MMoE experts) and task-specific ones
        get ``∇ Σ_t w_t L_t``."""
        # A representation computed from another (the pooled vector from the token states)
        # is left out: the gradient on the upstream one already carries its path, and
        # back-propagating both would count that path twice.
        representations = [z for z in representations
                           if not any(other is not z and tape.gradient(z, other) is not None
                                      for other in representations)]
        rows = []
        for name in self.trained:
            grads = tape.gradient(local[name], representations)
            rows.append(tf.concat([tf.reshape(G.dense(g, z), [-1]) for g, z in zip(grads, representations)], 0))
        matrix = tf.stack(rows)
        result, new_state, weights, combined = self._combine(matrix, losses, state)
        sizes = [tf.size(z) for z in representations]
        parts = [tf.reshape(part, tf.shape(z)) for part, z in zip(tf.split(combined, sizes), representations)]
        below = tape.gradient(representations, shared, output_gradients=parts)
        above = [v for v, g in zip(shared, below) if g is None] + others
        rest = weighted_gradient(tape, local, self.trained, weights, above) if above else []
        by_variable = {id(v): g for v, g in zip(shared, below) if g is not None}
        by_variable.update({id(v): g for v, g in zip(above, rest)})
        grads = G.all_reduce_sum(_for_all_reduce([by_variable[id(v)] for v in shared + others], shared + others,
                                                 self._multi_worker))
        self.stats.add_gradients(matrix)
        return result, new_state, {id(v): g for v, g in zip(shared + others, grads)}

    def _distributed_step(self, batch):
        if not self._distributed:
            return self.train_step(*batch)
        per_replica = self.strategy.run(self.train_step, args=tuple(batch))
        # every replica returns the same all-reduced losses
        return {k: self.strategy.experimental_local_results(v)[0] for k, v in per_replica.items()}

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
        if self._multi_worker:
            start = self._agreed_start(start)
        history.resumed_from_epoch = start
        stop = cfg.early_stopping if validation is not None else None
        mode = monitor_mode(stop.monitor, stop.mode) if stop else None
        writer = tf.summary.create_file_writer(str(self.run_dir / "tensorboard")) if self.run_dir else None
        steps_per_epoch = _steps_per_epoch(train, cfg.batch_size, bucket_boundaries)
        if cfg.learning_rate_schedule != "constant" or cfg.warmup_fraction:
            if steps_per_epoch is None:
                raise TrainingError("training.learning_rate_schedule needs the number of steps per epoch; "
                                    "pass SplitData (not a tf.data.Dataset) or use a constant rate")
            self.optimizers.set_total_steps(steps_per_epoch * cfg.epochs)
        if cfg.balance.method == "dwa" and "period" not in cfg.balance.hyperparameters and steps_per_epoch:
            self.balancer = make_balancer(cfg, self.tasks, self.trained, period=steps_per_epoch)
        if stop and int(self.wait.numpy()) >= stop.patience:  # a resumed run that had already stopped
            history.stopped_early = True
            start = cfg.epochs
        for epoch in range(start, cfg.epochs):
            began = time.perf_counter()
            batches = _epoch_batches(train, cfg.batch_size, cfg.seed + epoch, bucket_boundaries)
            if self._distributed:
                batches = _distribute(self.strategy, batches, self._multi_worker)
            losses = self._run_epoch(iter(batches), epoch, steps_per_epoch, verbose)
            record = {"epoch": epoch + 1, "seconds": round(time.perf_counter() - began, 3),
                      "train_loss": losses, "balance": self.stats.read_and_reset(self.trained)}
            if validation is not None:
                record["validation"] = self.evaluator.evaluate(_epoch_batches(validation, cfg.batch_size),
                                                               getattr(validation, "unseen", None))
                if self.evaluator.gates:
                    record["gates"] = {t: [round(float(w), 4) for w in g] for t, g in self.evaluator.gates.items()}
            self.epoch.assign(epoch + 1)
            better = False
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

    def _agreed_start(self, start: int) -> int:
        """The resume epoch, checked to be the same on every worker (else all stop together)."""
        starts = gather_from_replicas(self.strategy, float(start))
        if starts.min() != starts.max():
            raise TrainingError(
                f"--resume: the workers restored different epochs ({sorted(set(int(s) for s in starts))}); every "
                "worker must read the chief's run directory, on storage they all mount at the same path")
        return start

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
    stats = record.get("balance") or {}
    names = stats.get("tasks", [])
    with writer.as_default():
        for name, value in record["train_loss"].items():
            tf.summary.scalar(f"{name}/train_loss", value, step=step)
            weight = stats["weights"][names.index(name)] if name in names else weights[name]
            tf.summary.scalar(f"{name}/weight", weight, step=step)
        for i, a in enumerate(names):
            if "norm_ratio" in stats:
                tf.summary.scalar(f"{a}/gradient_norm_ratio", stats["norm_ratio"][i], step=step)
            for j, b in enumerate(names[i + 1:], i + 1):
                if "cosine" in stats:
                    tf.summary.scalar(f"gradients/cosine_{a}_{b}", stats["cosine"][i][j], step=step)
                    tf.summary.scalar(f"gradients/conflict_rate_{a}_{b}", stats["conflict_rate"][i][j], step=step)
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


DENSE_ALL_REDUCE_LIMIT = 1 << 20  # elements (4 MB of float32)


def _for_all_reduce(gradients: list, variables: list, multi_worker: bool) -> list:
    """Under ``tf.distribute``, sparse gradients made dense before the all-reduce: all of them
    across workers, those of tables up to ``DENSE_ALL_REDUCE_LIMIT`` elements on one machine.

    An ``IndexedSlices`` is all-reduced by an all-gather of its rows, a few collectives per
    table, where dense gradients travel packed in one; with many small embedding tables
    (33 categorical columns in census) the sparse path made a step several times slower.
    Across workers, the all-gather of rows whose count differs between workers also failed
    inside the multi-step loop (``steps_per_execution`` > 1; TensorFlow 2.21: "Shape mismatch
    in the collective instance"). Keras optimizers densify a sparse gradient anyway, so the
    update is the same. On one machine larger tables stay sparse: the rows a batch touches
    are fewer bytes than the table.
    """
    if G.replicas_in_sync() == 1:
        return gradients
    return [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices)
            and (multi_worker or v.shape.num_elements() <= DENSE_ALL_REDUCE_LIMIT) else g
            for g, v in zip(gradients, variables)]


def _replica_share(gradient, replicas: int):
    """This replica's share of an all-reduced gradient, for a Keras optimizer that sums the
    replicas' gradients again: a dense gradient divided by ``replicas``; the rows of a sparse
    one (``IndexedSlices``, embedding tables) all on the first replica, zeros elsewhere.

    Keras's sum of ``IndexedSlices`` concatenates the replicas' rows, and Adam squares rows
    one by one (see :func:`~mtlflow.train.gradients.deduplicate`): R copies of ``g/R``
    would add ``g²/R`` to its second moment instead of ``g²``.
    """
    if gradient is None:
        return None
    if isinstance(gradient, tf.IndexedSlices):
        first = tf.equal(tf.distribute.get_replica_context().replica_id_in_sync_group, 0)
        return tf.IndexedSlices(gradient.values * tf.cast(first, gradient.values.dtype), gradient.indices,
                                gradient.dense_shape)
    return gradient / replicas


def _distribute(strategy: tf.distribute.Strategy, batches: tf.data.Dataset, multi_worker: bool):
    """Global batches → per-replica batches: replica ``r`` of ``R`` gets rows
    ``[⌊n·r/R⌋, ⌊n·(r+1)/R⌋)`` of every global batch of ``n`` rows.

    Across workers each one builds the same global batches (the split and the epoch's shuffle
    are the same everywhere) and keeps its replicas' slices; the losses are global masked
    means, so any split of a batch gives the step of the whole batch. This replaces
    ``experimental_distribute_dataset``'s auto-sharding, which rewrote and re-serialised the
    dataset graph, in-memory split included, every epoch: up to 20 s per epoch on census.
    """
    if not multi_worker:
        return strategy.experimental_distribute_dataset(batches)

    def dataset_fn(context: tf.distribute.InputContext) -> tf.data.Dataset:
        replicas = context.num_replicas_in_sync
        local = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * local

        def slices(*batch):
            n = tf.shape(tf.nest.flatten(batch)[0])[0]

            def part(index):
                r = first + tf.cast(index, tf.int32)
                start, end = n * r // replicas, n * (r + 1) // replicas
                return tf.nest.map_structure(lambda t: t[start:end], batch)

            return tf.data.Dataset.range(local).map(part)

        return batches.flat_map(slices).prefetch(tf.data.AUTOTUNE)

    return strategy.distribute_datasets_from_function(dataset_fn)


def _steps_per_epoch(data, batch_size: int, buckets) -> int | None:
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        return steps if steps > 0 else None
    if not buckets:
        return math.ceil(data.size / batch_size)
    ids = data.inputs.get("token_ids")
    if not isinstance(ids, tf.RaggedTensor):
        return None
    # bucket_by_sequence_length: bucket i holds lengths in [b[i-1], b[i]); each ends with a partial batch
    bucket = np.searchsorted(np.asarray(buckets), ids.row_lengths().numpy(), side="right")
    return int(sum(math.ceil(c / batch_size) for c in np.bincount(bucket) if c))


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


def weighted_gradient(tape, local: dict, trained: list[str], weights, variables):
    """``∇ Σ_t w_t L_t`` from the tape, with the weights as output gradients (they are
    computed after the forward pass, outside the tape)."""
    return tape.gradient([local[n] for n in trained], variables,
                         output_gradients=[tf.cast(weights[i], local[n].dtype) for i, n in enumerate(trained)])


def make_balancer(training: TrainingConfig, tasks: dict, trained: list[str], period: int | None = None):
    """The config's balancer over the ``trained`` tasks, with its wrappers."""
    cfg = training.balance
    params = dict(cfg.hyperparameters)
    if cfg.method == "fixed":
        params["weights"] = [float(tasks[n].spec.weight) for n in trained]
    elif cfg.method == "uncertainty":
        params["regression"] = [tasks[n].type_name == "regression" for n in trained]
    elif cfg.method == "dwa" and period is not None and "period" not in params:
        params["period"] = period
    try:
        balancer = balance.create(cfg.method, **params)
    except ValueError as exc:
        raise ConfigError(f"training.balance: {exc}") from None
    if cfg.normalize:
        balancer = balance.normalize_gradients(balancer)
    if cfg.every > 1:
        balancer = balance.every_k_steps(balancer, cfg.every)
    return balancer


def _first_replica(next_creator, **kwargs):
    """Trainer state is computed identically on every replica: keep the first one's value."""
    kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
    kwargs.setdefault("synchronization", tf.VariableSynchronization.ON_WRITE)
    return next_creator(**kwargs)
