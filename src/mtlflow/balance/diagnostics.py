"""Pure functions that describe a set of task gradients (for logging, not for steps).

Each takes the ``[T, P]`` per-task gradients the trainer computes and works on their
Gram matrix; a zero gradient has cosine 0 with everything and norm ratio 0.

Example::

    cos = cosine_matrix(tf.constant([[1.0, 0.0], [-1.0, 1.0]]))  # [[1, -0.707], [-0.707, 1]]
"""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance._utils import EPS, gram


def cosine_matrix(gradients) -> tf.Tensor:
    """``[T, T]`` cosine similarities ``g_i · g_j / (‖g_i‖ ‖g_j‖)``."""
    a = gram(tf.cast(gradients, tf.float32))
    norms = tf.sqrt(tf.maximum(tf.linalg.diag_part(a), 0.0))
    return a / tf.maximum(norms[:, None] * norms[None, :], EPS)


def norm_ratios(gradients) -> tf.Tensor:
    """``[T]`` gradient norms divided by their mean, ``‖g_t‖ / mean_j ‖g_j‖``."""
    norms = tf.norm(tf.cast(gradients, tf.float32), axis=1)
    return norms / tf.maximum(tf.reduce_mean(norms), EPS)


def conflict(gradients) -> tf.Tensor:
    """``[T, T]`` bool: whether ``g_i`` and ``g_j`` conflict (negative cosine)."""
    return cosine_matrix(gradients) < 0.0
