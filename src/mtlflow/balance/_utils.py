"""Small helpers shared by the method files: argument checks and tensor plumbing."""

from __future__ import annotations

import math

import tensorflow as tf

EPS = 1e-8  # guards every division by a norm or a loss


def check(name: str, value, ok: bool, requirement: str):
    """Raises ``ValueError`` quoting the hyperparameter and its value unless ``ok``."""
    if not ok:
        raise ValueError(f"Argument `{name}` {requirement}. Received: {name}={value!r}")


def check_number(name: str, value, minimum: float = 0.0, strict: bool = False):
    """``value`` is a finite real number ``>= minimum`` (``> minimum`` if ``strict``)."""
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = is_number and (value > minimum if strict else value >= minimum)
    check(name, value, ok, f"must be a finite number {'>' if strict else '>='} {minimum}")
    return float(value)


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` is an integer ``>= minimum``."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= minimum
    check(name, value, ok, f"must be an integer >= {minimum}")
    return value


def as_losses(losses) -> tf.Tensor:
    """``[T]`` float32 constant losses (``stop_gradient``); ``T`` must be static."""
    losses = tf.stop_gradient(tf.cast(tf.convert_to_tensor(losses), tf.float32))
    if losses.shape.rank != 1 or losses.shape[0] is None:
        raise ValueError(f"`losses` must have static shape [num_tasks]. Received shape {losses.shape}")
    return losses


def as_gradients(gradients, method: str) -> tf.Tensor:
    """``[T, P]`` float32 constant gradients; ``T`` must be static."""
    if gradients is None:
        raise ValueError(f"`{method}` needs the per-task gradients: pass gradients=[T, P]. Received: gradients=None")
    gradients = tf.stop_gradient(tf.cast(tf.convert_to_tensor(gradients), tf.float32))
    if gradients.shape.rank != 2 or gradients.shape[0] is None:
        raise ValueError(f"`gradients` must have shape [num_tasks, P] with a static num_tasks. "
                         f"Received shape {gradients.shape}")
    return gradients


def gram(gradients: tf.Tensor) -> tf.Tensor:
    """``[T, T]`` matrix of inner products ``g_i · g_j``."""
    return tf.matmul(gradients, gradients, transpose_b=True)


def combine(coefficients: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """``Σ_t c_t g_t`` as a ``[P]`` vector."""
    return tf.linalg.matvec(gradients, coefficients, transpose_a=True)


def project_to_simplex(v: tf.Tensor) -> tf.Tensor:
    """Euclidean projection of each row of ``v`` (``[..., T]``) onto the probability simplex.

    The sort-based algorithm of Held, Wolfe & Crowder (1974) / Duchi et al. (ICML 2008).
    """
    t = v.shape[-1]
    u = tf.sort(v, axis=-1, direction="DESCENDING")
    cumulative = tf.cumsum(u, axis=-1) - 1.0
    index = tf.range(1, t + 1, dtype=v.dtype)
    support = tf.cast(u - cumulative / index > 0, v.dtype)
    rho = tf.reduce_sum(support, axis=-1, keepdims=True)  # >= 1 always
    theta = tf.gather(cumulative, tf.cast(rho, tf.int32) - 1, batch_dims=v.shape.rank - 1) / rho
    return tf.maximum(v - theta, 0.0)
