"""``MultiTaskModel``: Keras ``fit`` with mtlflow's train step — any balancer, masks, per-group
optimizers, gradient centralization and clipping — for any Keras model with one output per task.

Keras' own ``train_step`` minimises one summed loss ``Σ_t c_t L_t`` with constant
``loss_weights``. ``MultiTaskModel.train_step`` *is* mtlflow's step
(:class:`mtlflow.train.step.TrainStep`, the same code the config-driven ``Trainer`` runs):

1. per task the masked mean ``L_t = Σ_i m_i ℓ_i / Σ_i m_i`` over the labelled examples, the
   mask ``m`` given as Keras ``sample_weight`` per output or as mtlflow's mask dict (the third
   element of a ``(inputs, labels, masks)`` batch: the same slot); a task missing from the
   labels has no labelled example;
2. a balancer from :mod:`mtlflow.balance` turns the losses — and, for gradient-level methods,
   the per-task gradients of the shared parameters or of a shared representation — into task
   weights and a combined gradient;
3. gradient centralization, global-norm clipping, and one optimizer per parameter group.

Example (uncertainty weighting of a classic two-head model)::

    model = MultiTaskModel(two_head_model)       # outputs {"intent": ..., "sentiment": ...}
    model.compile(losses={"intent": "sparse_categorical_crossentropy",
                          "sentiment": "sparse_categorical_crossentropy"},
                  balancer=mtlflow.balance.uncertainty(), optimizers=keras.optimizers.Adam(1e-3))
    model.fit(x, y, sample_weight={"sentiment": has_sentiment}, epochs=3)

References:
  The step's methods cite their papers (:mod:`mtlflow.balance`, :mod:`mtlflow.train.gradients`).
"""

from __future__ import annotations

import functools

import keras
import tensorflow as tf

from mtlflow import balance
from mtlflow.keras.balance_metrics import BalanceMetrics, ReportedMetrics
from mtlflow.keras.step_state import StepState
from mtlflow.keras.task_losses import per_example_loss
from mtlflow.keras.variable_groups import variable_groups
from mtlflow.train.distribution import first_replica, is_multi_worker
from mtlflow.train.gradients import all_reduce_sum
from mtlflow.train.groups import OptimizerGroups
from mtlflow.train.step import StepOptions, TrainStep, global_masked_losses


@keras.saving.register_keras_serializable(package="mtlflow")
class MultiTaskModel(keras.Model):
    """A Keras model whose ``fit`` balances its tasks.

    Wrap a model (functional or subclassed) whose outputs are a dict ``{task: output}``, or
    subclass ``MultiTaskModel`` and write ``call`` as for any ``keras.Model``. Extra outputs
    (e.g. a shared representation) are allowed; only the tasks given ``losses`` are trained.

    Args:
      model: the wrapped model (None when subclassing).
    """

    def __init__(self, model: keras.Model | None = None, **kwargs):
        super().__init__(**kwargs)
        self.task_model = model
        if model is not None and model.built:
            self.built = True
        # the compiled step and what it owns, kept out of Keras' attribute tracking
        object.__setattr__(self, "_mtl", None)
        object.__setattr__(self, "_mtl_stages", [])

    def call(self, inputs, training=None):
        if self.task_model is None:
            raise NotImplementedError("MultiTaskModel without a wrapped model: subclass it and define call(), "
                                      "or pass the model: MultiTaskModel(model)")
        return self.task_model(inputs, training=training)

    def build(self, input_shape=None):
        if self.task_model is not None and not self.task_model.built:
            self.task_model.build(input_shape)
        self.built = True

    # ---- compile ---------------------------------------------------------------------------
    def compile(self, losses: dict, *, balancer="fixed", optimizers="adam", learning_rate_multipliers=None,
                clip_norm: float | None = None, task_clip_norm: float | None = None,
                gradient_centralization: bool = False, shared=None, representation=None, metrics=None,
                diagnostics_every: int | None = None, steps_per_execution: int = 1, run_eagerly: bool = False):
        """Configures the multi-task step.

        Args:
          losses: ``{task: loss}``: a Keras loss (name, instance, function) or an mtlflow task per
            output to train.
          balancer: a :mod:`mtlflow.balance` method (``mtlflow.balance.pcgrad()``), its name
            (``"uncertainty"``) or its config (``mtlflow.balance.get_config``); default ``"fixed"``
            (every weight 1).
          optimizers: an optimizer (or name) for every variable, or ``{group: optimizer}`` with
            groups ``"shared"`` and the task names (functional models; otherwise ``"tasks"``);
            ``"default"`` serves the groups not named.
          learning_rate_multipliers: ``{group: factor}``: each group gets its own copy of the
            optimizer with the learning rate multiplied.
          clip_norm: clip the combined gradient to this global norm.
          task_clip_norm: clip each task's gradient on the shared parameters before combining.
          gradient_centralization: zero-mean kernel gradients (Yong et al., ECCV 2020).
          shared: the parameters the tasks share, where gradient-level balancers combine the
            task gradients: None (functional models: every variable two task outputs depend on),
            a variable-path prefix, or a list of layers, layer names and variables.
          representation: an output name (or list) holding the shared representation: per-task
            gradients are taken there instead of on the shared parameters (cheaper).
          metrics: ``{task: [metrics]}``, computed over the labelled examples only.
          diagnostics_every: compute the task gradients' cosines every that many steps (logged
            as ``cosine_<a>_<b>``); gradient-level balancers measure them every step anyway.
          steps_per_execution: steps per compiled call, as in Keras.
          run_eagerly: as in Keras (debugging).
        """
        if not isinstance(losses, dict) or not losses:
            raise ValueError(f"Argument `losses` must be a non-empty dict {{task: loss}}. Received: losses={losses!r}")
        for name, value in (("clip_norm", clip_norm), ("task_clip_norm", task_clip_norm)):
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ValueError(f"Argument `{name}` must be a positive number or None. Received: {name}={value!r}")
        if diagnostics_every is not None and not (isinstance(diagnostics_every, int) and diagnostics_every > 0):
            raise ValueError(f"Argument `diagnostics_every` must be a positive integer or None. "
                             f"Received: diagnostics_every={diagnostics_every!r}")
        balancer = _resolve_balancer(balancer)
        object.__setattr__(self, "_mtl_config", {
            "losses": dict(losses), "balancer": balancer, "optimizers": optimizers,
            "learning_rate_multipliers": dict(learning_rate_multipliers or {}), "shared": shared,
            "representation": [representation] if isinstance(representation, str) else list(representation or []),
            "metrics": metrics, "options": StepOptions(clip_norm, task_clip_norm, gradient_centralization,
                                                        diagnostics_every)})
        first = optimizers if not isinstance(optimizers, dict) else next(iter(optimizers.values()))
        super().compile(optimizer=keras.optimizers.get(first) if isinstance(first, str) else first,
                        weighted_metrics=metrics, steps_per_execution=steps_per_execution, run_eagerly=run_eagerly,
                        jit_compile=False)
        object.__setattr__(self, "_mtl", None)
        if self.built:
            self._ensure_step()

    def _ensure_step(self, keep=None):
        """Builds the step and its state (variables) once the model is built; ``keep``: a
        previous build whose step state and optimizers carry over (new stages)."""
        if self._mtl is not None:
            return self._mtl
        cfg = self._mtl_config
        tasks = list(cfg["losses"])
        outputs_model = self.task_model if self.task_model is not None else self
        groups = variable_groups(outputs_model, tasks, cfg["shared"])
        strategy = self.distribute_strategy
        distributed = tf.distribute.has_strategy() or self._distribute_strategy is not None
        representation = cfg["representation"]
        balancer = cfg["balancer"]
        with strategy.scope():
            optimizers = _group_optimizers(cfg["optimizers"], groups, cfg["learning_rate_multipliers"],
                                           bool(self._mtl_stages))
            if keep is not None and set(keep.optimizers.optimizers) == set(optimizers):
                optimizers = dict(keep.optimizers.optimizers)  # the same groups: keep their slots
            optimizer_groups = OptimizerGroups.from_optimizers(optimizers, groups, self._mtl_stages)
            if keep is not None:
                state = keep.state
                optimizer_groups.stage_start_step.assign(state.step)  # stages count from here
            else:
                with tf.variable_creator_scope(first_replica):
                    state = StepState(balancer.init(len(tasks)), name="mtlflow_step_state")
            cosines = bool(groups["shared"]) and (balancer.needs_gradients or bool(representation)
                                                  or bool(cfg["options"].diagnostics_every)
                                                  or bool(cfg["options"].task_clip_norm))
            stats = BalanceMetrics(tasks, cosines)
            task_losses = {t: keras.metrics.Mean(name=f"{t}_loss") for t in tasks}
            for metric in task_losses.values():
                metric._direction = "down"  # EarlyStopping(monitor="val_<task>_loss") minimises it
            reported = ReportedMetrics(list(task_losses.values()) + stats.metrics, name="mtlflow_metrics")
        if not groups["shared"] and balancer.needs_gradients:
            raise ValueError(f"Argument `balancer`: {balancer.name!r} combines the tasks' gradients on shared "
                             "parameters, and the model shares none; pass `shared=` or use a loss-level method "
                             "(fixed, uncertainty, dwa, rlw)")
        losses = {t: per_example_loss(loss, t) for t, loss in cfg["losses"].items()}
        step = TrainStep(self, losses, tasks, cfg["options"], shared_variables=groups["shared"],
                         representation_keys=representation, balancer=balancer, balance_state=state.balance,
                         stats=stats, optimizers=optimizer_groups, step_counter=state.step, epoch=state.epoch,
                         distributed=distributed, multi_worker=is_multi_worker(strategy if distributed else None))
        self.optimizer = next(iter(optimizer_groups.optimizers.values()))
        object.__setattr__(self, "_mtl", _Compiled(step, state, stats, task_losses, reported, optimizer_groups, groups,
                                                   losses))
        self.train_function = None
        return self._mtl

    # ---- what Keras saves: the step's state and every group's optimizer --------------------
    @property
    def step_state(self) -> StepState | None:
        """The balancer's state and the step/epoch counters (saved with the model)."""
        return None if self._mtl is None else self._mtl.state

    @property
    def group_optimizers(self) -> dict:
        """``{group: optimizer}`` (``{"all": optimizer}`` with one optimizer)."""
        return {} if self._mtl is None else dict(self._mtl.optimizers.optimizers)

    @property
    def parameter_groups(self) -> dict:
        """``{group: [variables]}``: ``"shared"`` and one group per task (see ``compile(shared=)``)."""
        return {} if self._mtl is None else self._mtl.groups

    @property
    def balancer(self):
        return self._mtl_config["balancer"]

    @property
    def metrics(self):
        return super().metrics + ([] if self._mtl is None else [self._mtl.reported])

    # ---- the steps ---------------------------------------------------------------------------
    def train_step(self, data):
        return self._train_step(data, measured=self._ensure_step().step.always_measured)

    def _train_step(self, data, measured: bool):
        compiled = self._mtl
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels, masks = self._targets(y, sample_weight)
        losses, predictions = compiled.step(x, labels, masks, measured=measured or compiled.step.always_measured,
                                            return_predictions=True)
        return self._update_metrics(losses, labels, masks, predictions)

    def test_step(self, data):
        compiled = self._ensure_step()
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels, masks = self._targets(y, sample_weight)
        predictions = self(x, training=False)
        local = global_masked_losses(compiled.losses, labels, predictions, masks)
        stacked = all_reduce_sum(tf.stack([local[t] for t in compiled.losses]))
        losses = {t: stacked[i] for i, t in enumerate(compiled.losses)}
        self._update_metrics(losses, labels, masks, predictions)
        balance_names = {m.name for m in compiled.stats.metrics}  # trained, not evaluated
        return {k: v for k, v in self.get_metrics_result().items() if k not in balance_names}

    def _targets(self, y, sample_weight):
        """``(labels, masks)`` dicts keyed by task from Keras' ``y`` and ``sample_weight``."""
        tasks = list(self._mtl.losses)
        labels = _by_task(y, tasks, "y")
        unknown = sorted(set(labels) - set(tasks)) if isinstance(y, dict) else []
        if unknown:
            raise ValueError(f"The labels have keys that are not tasks given a loss in compile(): {unknown}. "
                             f"Tasks: {tasks}")
        if sample_weight is None:
            masks = {}
        elif isinstance(sample_weight, dict):
            masks = dict(sample_weight)
            unknown = sorted(set(masks) - set(tasks))
            if unknown:
                raise ValueError(f"`sample_weight` has keys that are not tasks given a loss in compile(): "
                                 f"{unknown}. Tasks: {tasks}")
        else:
            masks = _by_task(sample_weight, tasks, "sample_weight")
        return labels, masks

    def _update_metrics(self, losses, labels, masks, predictions):
        compiled = self._mtl
        for task, metric in compiled.task_losses.items():
            metric.update_state(losses[task])
        self._loss_tracker.update_state(tf.add_n(list(losses.values())))
        self._update_compiled_metrics(labels, masks, predictions)
        return self.get_metrics_result()

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        self._update_compiled_metrics(*self._targets(y, sample_weight), y_pred)
        return self.get_metrics_result()

    def _update_compiled_metrics(self, labels, masks, predictions):
        """``compile(metrics=)`` over the labelled examples (the masks as sample weights)."""
        if self._compile_metrics is None:
            return
        tasks = [t for t in self._mtl.losses if labels.get(t) is not None]
        weights = {t: tf.ones(tf.shape(labels[t])[:1]) if masks.get(t) is None else masks[t] for t in tasks}
        self._compile_metrics.update_state({t: labels[t] for t in tasks}, {t: predictions[t] for t in tasks},
                                           sample_weight=weights)

    def make_train_function(self, force=False):
        """Two compiled steps, picked per call in Python (as :class:`~mtlflow.train.trainer.Trainer`
        does): one that computes the per-task gradients (a gradient-level balancer's step,
        every ``k``-th step under ``every_k_steps``, a ``diagnostics_every`` step) and one that
        does not, so ordinary steps carry no per-task backward pass. With ``steps_per_execution``
        above 1, a call that holds such a step computes them on each of its steps.
        """
        if self.train_function is not None and not force:
            return self.train_function
        step = self._ensure_step().step
        functions = {}
        spe = self.steps_per_execution
        counter = self._mtl.state.step
        periodic = not step.always_measured and step.steps_until_measured(0) is not None

        def function(iterator):
            if periodic:  # the step counter says whether a step of this call needs the task gradients
                until = step.steps_until_measured(int(counter.numpy()))
                measured = until is not None and until < spe
            else:
                measured = step.always_measured
            if measured not in functions:
                functions[measured] = self._make_function(functools.partial(self._train_step, measured=measured))
            return functions[measured](iterator)

        self.train_function = function
        return function

    def make_test_function(self, force=False):
        self._ensure_step()
        return super().make_test_function(force)

    def fit(self, *args, **kwargs):
        if not self.built:
            raise ValueError(f"{type(self).__name__} {self.name!r} is not built: call it once on a batch (or "
                             "build() it) before compile() and fit(), so that its variables exist when the step's "
                             "state and optimizers are made")
        return super().fit(*args, **kwargs)

    # ---- serialization -----------------------------------------------------------------------
    def get_config(self):
        if self.task_model is None:
            return super().get_config()
        return {**super().get_config(), "model": keras.saving.serialize_keras_object(self.task_model)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        if "model" in config:
            config["model"] = keras.saving.deserialize_keras_object(config["model"], custom_objects=custom_objects)
        return cls(**config)

    def get_compile_config(self):
        if not getattr(self, "compiled", False):
            return {}
        cfg = self._mtl_config
        for task, loss in cfg["losses"].items():
            if hasattr(loss, "per_example_loss"):
                raise ValueError(f"losses[{task!r}] is an mtlflow task, which a .keras file cannot store: compile with "
                                 "a Keras loss (a name such as 'sparse_categorical_crossentropy' or a registered "
                                 "keras.losses.Loss) to save the model, or save its weights")
        shared = cfg["shared"]
        if shared is not None and not isinstance(shared, str):
            shared = [v.path for v in self._ensure_step().groups["shared"]] if self.built else None
        serialize = keras.saving.serialize_keras_object
        optimizers = cfg["optimizers"]
        options = cfg["options"]
        return {
            "losses": {t: serialize(loss) for t, loss in cfg["losses"].items()},
            "balancer": balance.get_config(cfg["balancer"]),
            "optimizers": {g: serialize(o) for g, o in optimizers.items()} if isinstance(optimizers, dict)
            else serialize(optimizers),
            "learning_rate_multipliers": cfg["learning_rate_multipliers"], "shared": shared,
            "representation": cfg["representation"], "metrics": serialize(cfg["metrics"]),
            "clip_norm": options.clip_norm, "task_clip_norm": options.task_clip_norm,
            "gradient_centralization": options.gradient_centralization,
            "diagnostics_every": options.diagnostics_every, "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        deserialize = keras.saving.deserialize_keras_object
        config = dict(config)
        config["losses"] = {t: deserialize(loss) for t, loss in config["losses"].items()}
        optimizers = config["optimizers"]
        config["optimizers"] = {g: deserialize(o) for g, o in optimizers.items()} \
            if isinstance(optimizers, dict) and "class_name" not in optimizers else deserialize(optimizers)
        config["metrics"] = deserialize(config["metrics"])
        shared = config.get("shared")
        if isinstance(shared, list) and self.built:
            by_path = {v.path: v for v in self.trainable_variables}
            config["shared"] = [by_path[p] for p in shared]
        self.compile(**config)

    # ---- stages (set by the StagedTraining callback) ------------------------------------------
    def set_stages(self, stages: list) -> None:
        """Installs training stages (:class:`~mtlflow.config.StageConfig`: freezing and
        learning-rate multipliers per group over epochs or steps); the step is rebuilt with one
        optimizer per group. Use the :class:`~mtlflow.keras.StagedTraining` callback."""
        if list(stages) == self._mtl_stages:
            return
        previous = self._mtl
        object.__setattr__(self, "_mtl_stages", list(stages))
        object.__setattr__(self, "_mtl", None)
        self.train_function = None
        self.test_function = None
        if self.built:
            self._ensure_step(keep=previous)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Exports a SavedModel that serves every output (Keras' ``export``); the input
        signature of a wrapped functional model is taken from its inputs."""
        if input_signature is None and self.task_model is not None:
            try:
                inputs = self.task_model.input
            except (AttributeError, ValueError):
                inputs = None
            if inputs is not None:
                input_signature = [tf.nest.map_structure(
                    lambda t: tf.TensorSpec(t.shape, t.dtype, name=t.name), inputs)]
        return super().export(filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)


class _Compiled:
    """What ``compile`` built: the step and everything it was handed."""

    def __init__(self, step, state, stats, task_losses, reported, optimizers, groups, losses):
        self.step, self.state, self.stats, self.task_losses, self.reported = step, state, stats, task_losses, reported
        self.optimizers, self.groups, self.losses = optimizers, groups, losses


def _resolve_balancer(balancer) -> balance.Balancer:
    if isinstance(balancer, balance.Balancer):
        return balancer
    if isinstance(balancer, str):
        return balance.create(balancer)
    if isinstance(balancer, dict) and "name" in balancer:
        return balance.from_config(balancer)
    raise ValueError(f"Argument `balancer` must be an mtlflow.balance method (e.g. mtlflow.balance.pcgrad()), its "
                     f"name or its config. Received: balancer={balancer!r}")


def _by_task(value, tasks: list[str], what: str) -> dict:
    """``{task: value}`` from a dict, a list in task order, or one value for a single task
    (``sample_weight``: one array for every task)."""
    if isinstance(value, dict):
        return dict(value)
    if value is None:
        return {}
    if isinstance(value, (list, tuple)):
        if len(value) != len(tasks):
            raise ValueError(f"`{what}` is a list of {len(value)} items for {len(tasks)} tasks {tasks}; "
                             f"pass a dict {{task: ...}}")
        return dict(zip(tasks, value))
    if what == "sample_weight" or len(tasks) == 1:
        return {t: value for t in tasks}
    raise ValueError(f"`{what}` must be a dict {{task: labels}} for a model with tasks {tasks}. "
                     f"Received a {type(value).__name__}")


def _group_optimizers(optimizers, groups: dict, multipliers: dict, staged: bool) -> dict:
    """``{group: optimizer}`` (or ``{"all": optimizer}``) built from ``compile``'s arguments."""
    names = [g for g, v in groups.items() if v]
    unknown = sorted(set(multipliers) - set(groups))
    if unknown:
        raise ValueError(f"Argument `learning_rate_multipliers` names unknown parameter groups {unknown}. "
                         f"Groups: {sorted(groups)}")
    if not isinstance(optimizers, dict):
        template = keras.optimizers.get(optimizers)
        if not multipliers and not staged:
            return {"all": template}
        optimizers = {"default": template}
        fresh = {g: _copy(template) for g in names}
    else:
        unknown = sorted(set(optimizers) - set(groups) - {"default"})
        if unknown:
            raise ValueError(f"Argument `optimizers` names unknown parameter groups {unknown}. "
                             f"Groups: {sorted(groups)} "
                             "(and 'default' for the groups not named)")
        missing = [g for g in names if g not in optimizers and "default" not in optimizers]
        if missing:
            raise ValueError(f"Argument `optimizers` has no optimizer for the groups {missing}; name them or add "
                             f"'default'. Received groups: {sorted(optimizers)}")
        fresh = {g: keras.optimizers.get(optimizers[g]) if g in optimizers else _copy(optimizers["default"])
                 for g in names}
    for group, factor in multipliers.items():
        if not (isinstance(factor, (int, float)) and factor > 0):
            raise ValueError(f"Argument `learning_rate_multipliers[{group!r}]` must be a positive number. "
                             f"Received: {factor!r}")
        if group in fresh:
            fresh[group].learning_rate = float(keras.ops.convert_to_numpy(fresh[group].learning_rate)) * factor
    return fresh


def _copy(optimizer) -> keras.optimizers.Optimizer:
    optimizer = keras.optimizers.get(optimizer)
    return type(optimizer).from_config(optimizer.get_config())
