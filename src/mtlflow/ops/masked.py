"""The masked mean: a missing label contributes nothing, to the loss or its gradient."""

from __future__ import annotations

import tensorflow as tf


def masked_mean(per_example_loss, mask, count=None):
    """``L = Σ_i m_i ℓ_i / max(Σ_i m_i, 1)``.

    ``mask`` has the shape of ``per_example_loss`` (``[batch]``, or ``[batch, time]`` for
    token-level tasks). A batch without any label of the task gives ``L = 0`` and zero
    gradients; a masked example has ``∂L/∂ℓ_i = 0``, so it changes no weight through
    this task. ``count`` replaces ``Σ_i m_i`` (under ``tf.distribute``: the global count,
    so each replica returns its share of the global mean).
    """
    mask = tf.cast(mask, per_example_loss.dtype)
    # where() rather than a product: a masked entry with an infinite or NaN loss
    # (e.g. log 0 on a placeholder label) must not poison the sum (0·inf = NaN).
    total = tf.reduce_sum(tf.where(mask > 0, per_example_loss * mask, 0.0))
    return total / tf.maximum(tf.reduce_sum(mask) if count is None else count, 1.0)
