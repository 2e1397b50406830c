"""The optimizer a training config asks for."""

from __future__ import annotations

import keras

from mtlflow.config import TrainingConfig


def make_optimizer(training: TrainingConfig) -> keras.optimizers.Optimizer:
    """Adam / AdamW / SGD with the config's learning rate and global-norm clipping."""
    common = {"learning_rate": training.learning_rate, "global_clipnorm": training.clip_norm}
    if training.optimizer == "adam":
        return keras.optimizers.Adam(**common)
    if training.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=training.weight_decay, **common)
    return keras.optimizers.SGD(momentum=0.9, **common)
