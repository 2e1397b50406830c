"""Staged training as a Keras callback: freeze or slow parameter groups for a while.

A common fine-tuning schedule trains the new heads first with the shared trunk frozen, then
unfreezes the trunk at a lower learning rate. :class:`StagedTraining` gives
:class:`~mtlflow.keras.MultiTaskModel` such stages; the step applies them as the trainer's
``training.stages`` are applied (:class:`mtlflow.train.groups.OptimizerGroups`): a frozen
group's optimizer is not applied at all (no momentum drift, no weight decay), a multiplier
scales the group's learning rate, and the stage advances inside the compiled step.
"""

from __future__ import annotations

import keras

from mtlflow.config import StageConfig


class StagedTraining(keras.callbacks.Callback):
    """Training stages for :class:`~mtlflow.keras.MultiTaskModel`'s ``fit``.

    Args:
      stages: a list of stages, each a dict (or :class:`~mtlflow.config.StageConfig`) with
        ``epochs`` or ``steps`` (its length; the last stage may omit it), ``freeze`` (group
        names: ``"shared"`` and the task names) and ``learning_rate_multipliers``
        (``{group: factor}``).

    Example::

        model.fit(data, epochs=5, callbacks=[StagedTraining([
            {"epochs": 1, "freeze": ["shared"]},                      # heads only
            {"learning_rate_multipliers": {"shared": 0.1}},           # then everything, trunk slower
        ])])

    Raises:
      ValueError: a stage is not valid (the message names it), or names an unknown group
        when the callback is given to ``fit``.
    """

    def __init__(self, stages: list):
        super().__init__()
        if not isinstance(stages, (list, tuple)) or not stages:
            raise ValueError(f"Argument `stages` must be a non-empty list of stages. Received: stages={stages!r}")
        parsed = []
        for i, stage in enumerate(stages):
            try:
                parsed.append(stage if isinstance(stage, StageConfig) else StageConfig(**stage))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Argument `stages[{i}]` is not a valid stage: {exc}. Received: {stage!r}") from None
        self.stages = parsed

    def set_model(self, model):
        super().set_model(model)
        if not hasattr(model, "set_stages"):
            raise ValueError(f"StagedTraining needs a mtlflow.keras.MultiTaskModel. Received: {type(model).__name__}")
        groups = set(model.parameter_groups) if model.parameter_groups else None
        for i, stage in enumerate(self.stages):
            named = set(stage.freeze) | set(stage.learning_rate_multipliers)
            if groups is not None and named - groups:
                raise ValueError(f"Argument `stages[{i}]` names unknown parameter groups {sorted(named - groups)}. "
                                 f"Groups: {sorted(groups)}")
        model.set_stages(self.stages)

    def on_epoch_begin(self, epoch, logs=None):
        # stages measured in epochs advance inside the step from this counter
        self.model.step_state.epoch.assign(epoch)

    def get_config(self):
        return {"stages": [stage.model_dump(exclude_defaults=True) for stage in self.stages]}
