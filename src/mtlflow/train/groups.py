"""Optimizer groups and staged schedules: the shared trunk and each task with its own
optimizer, learning rate, freezing and learning-rate multipliers over training stages.

Without ``training.groups`` or ``training.stages`` every variable goes to one optimizer
(the fast path). Otherwise each group (``shared`` and every task) gets an optimizer of its
own, built from the group's settings over the training defaults. A stage lasts
``epochs`` or ``steps`` from its start; the current stage index lives in a variable, so
it is checkpointed and advances inside the compiled step. A frozen group's optimizer is
not applied at all (no momentum drift, no weight decay); a multiplier scales the group's
learning rate for that stage.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from mtlflow.config import TrainingConfig
from mtlflow.errors import TrainingError


def make_optimizer(kind: str, learning_rate: float, weight_decay: float = 0.0,
                   ema_momentum: float | None = None) -> keras.optimizers.Optimizer:
    """Adam / AdamW / SGD (momentum 0.9). Clipping is done by the trainer on the global gradient.
    ``ema_momentum``: the optimizer also keeps the moving average of the weights it updates
    (:mod:`mtlflow.train.weight_averaging`)."""
    averaging = {"use_ema": True, "ema_momentum": ema_momentum} if ema_momentum is not None else {}
    if kind == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate, **averaging)
    if kind == "adamw":
        return keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay, **averaging)
    return keras.optimizers.SGD(learning_rate=learning_rate, momentum=0.9, **averaging)


class OptimizerGroups:
    """Applies gradients group by group, following the stage schedule.

    Args:
      training: the ``training:`` config.
      groups: ``{"shared": [variables], task: [variables], ...}`` (see ``task_variables``).
      scales: ``{group: (parent group, rate factor)}`` for groups split off another one
        (:func:`~mtlflow.train.layer_decay.layer_decay_groups`): such a group takes its
        parent's settings, stages and freezing, at ``factor`` times its rate.

    :meth:`from_optimizers` builds the same object from optimizer instances and stages
    instead of the config (the Keras driver, :class:`mtlflow.keras.MultiTaskModel`).
    """

    def __init__(self, training: TrainingConfig, groups: dict[str, list],
                 scales: dict[str, tuple[str, float]] | None = None):
        groups = {name: list(v) for name, v in groups.items() if v}
        scales = scales or {}
        optimizers, rates = {}, {}
        if training.groups or training.stages or scales:
            for name in groups:
                parent, factor = scales.get(name, (name, 1.0))
                group = training.groups.get(parent)
                kind = (group.optimizer if group and group.optimizer else None) or training.optimizer
                rate = ((group.learning_rate if group and group.learning_rate else None) or training.learning_rate) * factor
                optimizers[name] = make_optimizer(kind, rate, training.weight_decay, training.ema_momentum)
                rates[name] = rate
        else:
            optimizers["all"] = make_optimizer(training.optimizer, training.learning_rate, training.weight_decay,
                                               training.ema_momentum)
            rates["all"] = training.learning_rate
        self._setup(optimizers, rates, groups, list(training.stages), training.learning_rate_schedule,
                    training.warmup_fraction, {name: parent for name, (parent, _) in scales.items()})

    @classmethod
    def from_optimizers(cls, optimizers: dict[str, keras.optimizers.Optimizer], groups: dict[str, list],
                        stages: list | None = None) -> "OptimizerGroups":
        """Groups over given optimizers: ``{"all": optimizer}`` (every variable) or one per
        group of ``groups``; ``stages``: :class:`~mtlflow.config.StageConfig` s (freezing and
        learning-rate multipliers, which need one optimizer per group). The base learning
        rate of each group is its optimizer's at this call; the rate is constant (no schedule).
        """
        groups = {name: list(v) for name, v in groups.items() if v}
        stages = list(stages or [])
        if stages and "all" in optimizers:
            raise TrainingError("stages freeze or scale parameter groups, so each group needs an optimizer of "
                                "its own; got one optimizer for every variable ('all')")
        missing = [name for name in groups if name not in optimizers] if "all" not in optimizers else []
        if missing:
            raise TrainingError(f"no optimizer for the parameter group(s) {missing}; got {sorted(optimizers)}")
        optimizers = {name: optimizers[name] for name in (["all"] if "all" in optimizers else groups)}
        rates = {name: float(keras.ops.convert_to_numpy(o.learning_rate)) for name, o in optimizers.items()}
        obj = cls.__new__(cls)
        obj._setup(optimizers, rates, groups, stages, "constant", 0.0)
        return obj

    def _setup(self, optimizers, base_rates, groups, stages, schedule: str, warmup_fraction: float,
               parents: dict[str, str] | None = None) -> None:
        self.groups = groups
        self.parents = parents or {}  # a split-off group follows its parent's stages
        self.stages = stages
        self.optimizers: dict[str, keras.optimizers.Optimizer] = optimizers
        self.base_rates: dict[str, float] = base_rates
        self.schedule, self.warmup_fraction = schedule, warmup_fraction
        self.total_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="total_steps")
        for name, optimizer in self.optimizers.items():
            if not optimizer.built:  # an optimizer handed in may already hold its slots (a restage)
                optimizer.build(self._variables(name))
        self.stage = tf.Variable(0, dtype=tf.int64, trainable=False, name="stage")
        self.stage_start_step = tf.Variable(0, dtype=tf.int64, trainable=False, name="stage_start_step")
        self.stage_start_epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="stage_start_epoch")

    def _variables(self, name: str) -> list:
        return [v for vs in self.groups.values() for v in vs] if name == "all" else self.groups[name]

    @property
    def variables(self) -> list:
        """Every optimizer variable plus the stage counters (for checkpoints)."""
        out = [v for o in self.optimizers.values() for v in o.variables]
        return out + [self.stage, self.stage_start_step, self.stage_start_epoch]

    def pairs(self) -> list[tuple[keras.optimizers.Optimizer, list]]:
        """``(optimizer, the variables it updates)``, in the order it was built with."""
        return [(optimizer, self._variables(name)) for name, optimizer in self.optimizers.items()]

    @property
    def iterations(self):
        return next(iter(self.optimizers.values())).iterations

    def advance(self, step, epoch) -> tf.Tensor:
        """Moves to the next stage when the current one has run its length; returns the index.

        Written without ``tf.cond`` (assignments are unconditional, values selected with
        ``tf.where``) so that it also runs inside ``tf.distribute`` replicas.
        """
        stage, start_step, start_epoch = self.stage.read_value(), self.stage_start_step.read_value(), \
            self.stage_start_epoch.read_value()
        for i, spec in enumerate(self.stages):
            if spec.epochs is None and spec.steps is None:
                continue
            done = (epoch - start_epoch >= spec.epochs) if spec.epochs is not None else (step - start_step >= spec.steps)
            move = tf.logical_and(tf.equal(stage, i), done)
            stage = tf.where(move, tf.constant(i + 1, tf.int64), stage)
            start_step = tf.where(move, step, start_step)
            start_epoch = tf.where(move, epoch, start_epoch)
        self.stage.assign(stage)
        self.stage_start_step.assign(start_step)
        self.stage_start_epoch.assign(start_epoch)
        return stage

    def set_total_steps(self, steps: int) -> None:
        """The run's length in steps, which ``learning_rate_schedule`` decays over."""
        self.total_steps.assign(int(steps))

    def schedule_factor(self, step) -> tf.Tensor | None:
        """The learning-rate factor at ``step`` (None for a constant rate without warm-up).

        Linear warm-up from 0 over the first ``warmup_fraction`` of the steps, then
        ``linear``: ``1 − p`` or ``cosine``: ``(1 + cos πp) / 2`` with ``p`` the fraction of
        the remaining steps done (the BERT fine-tuning recipe is linear; Devlin et al., 2019).
        """
        kind, warmup = self.schedule, self.warmup_fraction
        if kind == "constant" and not warmup:
            return None
        total = tf.cast(tf.maximum(self.total_steps, 1), tf.float32)
        now = tf.cast(step, tf.float32)
        warm = warmup * total
        factor = tf.minimum(1.0, (now + 1.0) / tf.maximum(warm, 1.0)) if warmup else tf.constant(1.0)
        done = tf.clip_by_value((now - warm) / tf.maximum(total - warm, 1.0), 0.0, 1.0)
        if kind == "linear":
            factor *= 1.0 - done
        elif kind == "cosine":
            factor *= 0.5 * (1.0 + tf.cos(3.141592653589793 * done))
        return factor

    def _stage_name(self, name: str) -> str:
        """The group the stages name for ``name``: its parent for a split-off group."""
        return self.parents.get(name, name)

    def frozen(self, name: str, stage) -> tf.Tensor | None:
        """A bool tensor (frozen in the current stage) or None when never frozen."""
        indices = [i for i, s in enumerate(self.stages) if self._stage_name(name) in s.freeze]
        if not indices:
            return None
        return tf.reduce_any(tf.equal(stage, tf.constant(indices, tf.int64)))

    def apply(self, gradients: dict, step, epoch, synchronised: bool = False) -> None:
        """``gradients``: ``{id(variable): gradient}`` for every trainable variable.

        ``synchronised``: under ``tf.distribute`` an optimizer update all-reduces, which
        cannot sit inside ``tf.cond``; a frozen group then takes a step with learning rate 0
        and zero gradients instead of none (its variables do not move; Adam's moments decay).
        """
        if synchronised:
            for optimizer in self.optimizers.values():
                takes_reduced_gradients(optimizer)
        stage = self.advance(step, epoch) if self.stages else None
        schedule = self.schedule_factor(step)
        for name, optimizer in self.optimizers.items():
            variables = self._variables(name)
            grads = [gradients[id(v)] for v in variables]
            multipliers = [s.learning_rate_multipliers.get(self._stage_name(name), 1.0) for s in self.stages]
            frozen = self.frozen(name, stage) if stage is not None else None
            staged = stage is not None and (any(m != 1.0 for m in multipliers) or (synchronised and frozen is not None))
            if staged or schedule is not None:
                rate = tf.constant(self.base_rates[name], tf.float32)
                if staged:
                    table = tf.constant(multipliers + [1.0], tf.float32)
                    rate = rate * tf.gather(table, tf.minimum(stage, len(multipliers)))
                    if synchronised and frozen is not None:
                        rate = tf.where(frozen, 0.0, rate)
                if schedule is not None:
                    rate = rate * schedule
                optimizer.learning_rate = rate
            if synchronised and frozen is not None:
                grads = [None if g is None else tf.cond(frozen, lambda g=g: tf.zeros_like(tf.convert_to_tensor(g)),
                                                        lambda g=g: tf.convert_to_tensor(g)) for g in grads]
                optimizer.apply_gradients(zip(grads, variables))
            elif frozen is None:
                optimizer.apply_gradients(zip(grads, variables))
            else:
                def update(optimizer=optimizer, grads=grads, variables=variables):
                    optimizer.apply_gradients(zip(grads, variables))
                    return tf.constant(True)

                tf.cond(frozen, lambda: tf.constant(False), update)


def takes_reduced_gradients(optimizer: keras.optimizers.Optimizer) -> None:
    """Makes ``optimizer`` apply the gradients it is given under ``tf.distribute`` as they are.

    A Keras optimizer called in a replica context all-reduces (sums) the gradients itself
    before updating the mirrored variables (``_all_reduce_sum_gradients`` of Keras's
    TensorFlow optimizer). The train step has already summed them over the replicas — it
    needs the global gradient for the balancer and for clipping — so a second sum would
    send every gradient through the network twice. Each replica hands over the same
    reduced gradient, and the update of a mirrored variable applies each replica's copy to
    that replica's copy of the variable.
    """
    if getattr(optimizer, "_takes_reduced_gradients", False):
        return
    if not callable(getattr(type(optimizer), "_all_reduce_sum_gradients", None)):
        raise TrainingError(
            f"training.distribution: this Keras version's {type(optimizer).__name__} has no "
            "_all_reduce_sum_gradients to skip, so it would sum the already-reduced gradients again; "
            "use the Keras version pinned in pyproject.toml")
    optimizer._all_reduce_sum_gradients = list
    optimizer._takes_reduced_gradients = True
