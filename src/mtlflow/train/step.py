"""One optimisation step of the multi-task model: a ``tf.GradientTape`` over masked task losses.

A step (:class:`TrainStep`, called once per replica under ``tf.distribute``):

1. forward pass; per task the masked mean loss ``L_t`` over the *global* batch (under
   ``tf.distribute`` each replica contributes ``Σ_i m_i ℓ_i / Σ_global m``);
2. the balancer (:mod:`mtlflow.balance`) turns the losses — and, when it needs them, the
   per-task gradients ``G = [∇_θs L_t]`` of the shared parameters θs, summed over replicas —
   into task weights and a combined shared gradient. ``G`` costs one backward pass per
   task through the shared trunk, so it is computed only when the balancer needs it, on
   diagnostics steps, or with ``task_clip_norm``. Whether a step computes ``G`` is fixed
   when it is traced (``measured``): the trainer compiles the two kinds of step separately
   and picks one per step in Python, so an ordinary step has no ``tf.cond``, matrix or
   collective for ``G`` in its graph;
3. task-specific parameters get ``∇ Σ_t w_t L_t``; gradient centralization, global-norm
   clipping, then each parameter group's optimizer (with its stage's freezing and
   learning-rate multiplier). Every gradient is all-reduced once, by the step; the
   optimizers apply it without summing it again.

The step owns no variables: the model, the optimizers, the balancer state, the gradient
statistics and the step/epoch counters are handed to it, and its settings are plain values
(:class:`StepOptions`), so the same step is driven by :class:`~mtlflow.train.trainer.Trainer`'s
loop and by :class:`mtlflow.keras.MultiTaskModel`'s ``train_step`` (Keras ``fit``).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import tensorflow as tf

from mtlflow.balance import Balancer
from mtlflow.ops.masked import masked_mean
from mtlflow.train import gradients as G
from mtlflow.train.replica_gradients import all_reduce_gradients


class StepOptions(NamedTuple):
    """The settings of a step.

    Attributes:
      clip_norm: clip the combined gradient to this global norm (None: no clipping).
      task_clip_norm: clip each task's gradient on the shared parameters to this norm
        before they are combined (None: no clipping; needs the per-task gradients).
      gradient_centralization: make every kernel gradient zero-mean (:func:`~mtlflow.train.gradients.centralize`).
      diagnostics_every: compute the per-task gradients for the statistics every that many
        steps (None: only when the balancer needs them).
    """

    clip_norm: float | None = None
    task_clip_norm: float | None = None
    gradient_centralization: bool = False
    diagnostics_every: int | None = None

    @classmethod
    def from_training(cls, training) -> "StepOptions":
        """The options of the ``training:`` config section."""
        return cls(training.clip_norm, training.task_clip_norm, training.gradient_centralization,
                   training.diagnostics_every)


def recompute_period(balancer: Balancer) -> int | None:
    """``k`` of the :func:`~mtlflow.balance.every_k_steps` wrapper in ``balancer``'s chain of
    wrappers (None: no such wrapper, or ``k = 1``)."""
    while isinstance(balancer, Balancer):
        if balancer.name == "every_k_steps":
            return balancer.config["k"] if balancer.config["k"] > 1 else None
        balancer = balancer.config.get("balancer")
    return None


def global_masked_losses(losses: dict, labels: dict, predictions: dict, masks: dict) -> dict:
    """``{task: Σ_i m_i ℓ_i / Σ_global m}``: this replica's share of each task's masked mean
    over the global batch (the label counts are summed over the replicas in one all-reduce).

    ``losses``: ``{task: per_example_loss(y_true, y_pred)}``. A task whose labels are absent
    (``labels.get(task) is None``) has no labelled example in the batch (loss 0, no
    gradient); a mask that is absent (None) labels every example; a mask of lower rank than
    the loss (``[batch]`` for a ``[batch, time]`` loss, Keras' ``sample_weight``) is
    broadcast over the trailing axes.
    """
    per_example, weights = {}, {}
    for name, loss in losses.items():
        if labels.get(name) is None:
            prediction = predictions[name]
            shape = tf.shape(prediction)[:-1] if prediction.shape.rank > 1 else tf.shape(prediction)
            per_example[name] = tf.zeros(shape, prediction.dtype)
            weights[name] = tf.zeros(shape, tf.float32)
            continue
        value = loss(labels[name], predictions[name])
        per_example[name] = value
        mask = masks.get(name)
        weights[name] = tf.ones_like(value, tf.float32) if mask is None else _broadcast(mask, value)
    counts = G.all_reduce_sum(tf.stack([tf.reduce_sum(weights[n]) for n in losses]))
    return {name: masked_mean(loss, weights[name], tf.cast(counts[i], loss.dtype))
            for i, (name, loss) in enumerate(per_example.items())}


def _broadcast(mask, loss):
    """The mask as float32 with the loss's shape (trailing axes added and broadcast)."""
    mask = tf.cast(mask, tf.float32)
    rank = loss.shape.rank
    if mask.shape.rank is not None and rank is not None and mask.shape.rank < rank:
        mask = tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([rank - mask.shape.rank], tf.int32)], 0))
        mask = tf.broadcast_to(mask, tf.shape(loss))
    return mask


class TrainStep:
    """The step over the tasks of ``model``.

    Args:
      model: the Keras model (one output per task, plus ``representation.*`` outputs when
        ``representation_keys`` is not empty).
      losses: ``{task: per_example_loss(y_true, y_pred)}`` (unreduced: ``[batch]``, or
        ``[batch, time]`` for token-level tasks), in the model's output order; ``trained``:
        the tasks the balancer weighs (the others are reported, not trained).
      options: :class:`StepOptions`.
      shared_variables: the parameters every task shares (``task_variables(model)["shared"]``).
      representation_keys: model outputs on which per-task gradients are taken
        (``training.balance.gradients: representation``), else empty.
      balancer, balance_state: the :mod:`mtlflow.balance` method and its state variables.
      stats: :class:`~mtlflow.train.gradient_stats.GradientStats` accumulating cosines and weights.
      optimizers: :class:`~mtlflow.train.groups.OptimizerGroups`.
      step_counter, epoch: ``tf.Variable`` counters (the step increments ``step_counter``).
      distributed, multi_worker: whether the step runs under a ``tf.distribute`` strategy, and
        across workers.
    """

    def __init__(self, model, losses: dict[str, Callable], trained: list[str], options: StepOptions, *,
                 shared_variables: list, representation_keys: list[str], balancer, balance_state, stats, optimizers,
                 step_counter, epoch, distributed: bool = False, multi_worker: bool = False):
        self.model, self.losses, self.trained, self.options = model, losses, trained, options
        self.shared_variables, self.representation_keys = shared_variables, representation_keys
        self.balancer, self.balance_state, self.stats = balancer, balance_state, stats
        self.optimizers, self.step_counter, self.epoch = optimizers, step_counter, epoch
        self.distributed, self.multi_worker = distributed, multi_worker

    @property
    def _combines_task_gradients(self) -> bool:
        """Whether the update itself is built from the per-task gradients ``G``."""
        return bool(self.shared_variables and (self.balancer.needs_gradients or self.options.task_clip_norm))

    @property
    def always_measured(self) -> bool:
        """Whether every step needs the per-task gradients: a gradient-level balancer without
        ``every: k``, ``task_clip_norm``, or gradients on the representation."""
        if not self.shared_variables:
            return False
        if self.representation_keys or self.options.task_clip_norm:
            return True
        return bool(self.balancer.needs_gradients and not self._balancer_period)

    @property
    def _balancer_period(self) -> int | None:
        """``k`` of a gradient-level balancer wrapped by ``every: k`` (its recomputation steps
        are ``0, k, 2k, …`` of the step counter, as the wrapper counts them)."""
        return recompute_period(self.balancer) if self.balancer.needs_gradients and self.balancer.wants_gradients \
            else None

    def steps_until_measured(self, step: int) -> int | None:
        """How many ordinary steps come before the next step that needs the per-task gradients
        ``G``, counted from step ``step`` (0: ``step`` itself needs them; None: no step does).

        Such a step — every ``diagnostics_every``-th, every ``k``-th under ``every: k`` — runs
        in a compiled function of its own, picked in Python; the ordinary steps' function
        carries no per-task backward pass, matrix or collective at all.
        """
        if not self.shared_variables:
            return None
        if self.always_measured:
            return 0
        periods = [p for p in (self.options.diagnostics_every, self._balancer_period) if p]
        return min((-step) % p for p in periods) if periods else None

    def __call__(self, inputs, labels, masks, measured: bool = False, return_predictions: bool = False):
        """One optimisation step; returns ``{task: loss}`` (global masked means), and the
        forward pass's outputs as well when ``return_predictions``.

        ``measured`` (a Python bool, fixed when the step is traced): this step computes the
        per-task gradients ``G`` of the shared parameters — for the balancer, for
        ``task_clip_norm`` or for the diagnostics (see :meth:`steps_until_measured`).
        ``labels`` and ``masks`` as :func:`global_masked_losses` takes them.
        """
        cfg = self.options
        measured = bool(measured and self.shared_variables)
        with tf.GradientTape(persistent=measured) as tape:
            predictions = self.model(inputs, training=True)
            local = global_masked_losses(self.losses, labels, predictions, masks)
        reported = G.all_reduce_sum(tf.stack([local[n] for n in self.losses]))
        losses = tf.stack([reported[list(self.losses).index(n)] for n in self.trained])
        state = self.balance_state.value()
        variables = self.model.trainable_variables
        shared = self.shared_variables
        shared_refs = {id(v) for v in shared}
        others = [v for v in variables if id(v) not in shared_refs]

        if measured and self.representation_keys:
            result, new_state, by_variable = self._representation_step(
                tape, local, [predictions[k] for k in self.representation_keys], losses, state, shared, others)
        elif measured and self._combines_task_gradients:
            # G gives the shared parameters' update; one backward pass of Σ w_t L_t the rest's
            matrix = self._task_gradient_matrix(tape, local, shared)
            result, new_state, weights, combined = self._combine(matrix, losses, state)
            rest = weighted_gradient(tape, local, self.trained, weights, others) if others else []
            by_variable = {id(v): g for v, g in zip(shared, G.unflatten(combined, shared))}
            by_variable.update({id(v): g for v, g in
                                zip(others, all_reduce_gradients(rest, others, self.multi_worker))})
            self.stats.add_gradients(matrix)
        else:
            # One backward pass of Σ w_t L_t (sparse embedding gradients stay sparse). A
            # gradient-level balancer under ``every: k`` keeps its last weights on these steps.
            result, new_state = self.balancer.update(losses=losses, gradients=None, state=state)
            grads = all_reduce_gradients(weighted_gradient(tape, local, self.trained, result.weights, variables),
                                         variables, self.multi_worker)
            by_variable = {id(v): g for v, g in zip(variables, grads)}
            if measured:  # diagnostics only: G feeds the statistics, not the update
                self.stats.add_gradients(self._task_gradient_matrix(tape, local, shared))
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
        # every gradient is already summed over the replicas: the optimizers apply it as it is
        self.optimizers.apply({id(v): g for v, g in zip(variables, grads)}, self.step_counter, self.epoch,
                              synchronised=self.distributed)
        self.step_counter.assign_add(1)
        out = {name: reported[i] for i, name in enumerate(self.losses)}
        return (out, predictions) if return_predictions else out

    def _task_gradient_matrix(self, tape, local, shared):
        """``G``: ``[T, P]`` per-task gradients of the shared parameters, summed over replicas
        (one all-reduce); only ever built on a measured step."""
        return G.all_reduce_sum(tf.stack([G.flatten(tape.gradient(local[n], shared), shared) for n in self.trained]))

    def _combine(self, matrix, losses, state):
        """Balancer over the per-task gradients: ``(result, new state, weights, combined shared gradient)``."""
        if self.options.task_clip_norm:
            matrix = G.clip_rows(matrix, self.options.task_clip_norm)
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
        grads = all_reduce_gradients([by_variable[id(v)] for v in shared + others], shared + others,
                                     self.multi_worker)
        self.stats.add_gradients(matrix)
        return result, new_state, {id(v): g for v, g in zip(shared + others, grads)}


def weighted_gradient(tape, local: dict, trained: list[str], weights, variables):
    """``∇ Σ_t w_t L_t`` from the tape, with the weights as output gradients (they are
    computed after the forward pass, outside the tape)."""
    return tape.gradient([local[n] for n in trained], variables,
                         output_gradients=[tf.cast(weights[i], local[n].dtype) for i, n in enumerate(trained)])
