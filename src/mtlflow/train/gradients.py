"""Gradient plumbing for the train step: flatten per-task gradients, centralise, reduce.

Pure functions of tensors (graph-safe); the trainer decides when each one runs.
"""

from __future__ import annotations

import tensorflow as tf


def dense(gradient, variable) -> tf.Tensor:
    """A dense gradient (``None`` → zeros, ``IndexedSlices`` → scattered)."""
    if gradient is None:
        return tf.zeros_like(variable)
    if isinstance(gradient, tf.IndexedSlices):
        return tf.convert_to_tensor(gradient)
    return gradient


def flatten(gradients, variables) -> tf.Tensor:
    """``[P]``: the gradients of ``variables`` concatenated in order."""
    return tf.concat([tf.reshape(dense(g, v), [-1]) for g, v in zip(gradients, variables)], axis=0)


def unflatten(vector: tf.Tensor, variables) -> list[tf.Tensor]:
    """The inverse of :func:`flatten`."""
    sizes = [int(v.shape.num_elements()) for v in variables]
    return [tf.reshape(part, v.shape) for part, v in zip(tf.split(vector, sizes), variables)]


def deduplicate(gradient):
    """Sums the rows of an ``IndexedSlices`` gradient that share an index.

    An embedding looked up twice in a batch gets one slice per lookup. Keras optimizers
    apply sparse updates slice by slice, so Adam would accumulate ``v`` from the squared
    slices rather than the squared sum — a step up to √k times its learning rate for a
    row seen k times. Summing first gives the update of the dense gradient.
    """
    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    unique, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(gradient.values, positions, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, gradient.dense_shape)


def centralize(gradient, variable):
    """Gradient centralization (Yong et al., "Gradient Centralization: A New Optimization
    Technique for Deep Neural Networks", ECCV 2020): ``Φ(∇W) = ∇W − mean(∇W)``, the mean
    taken over every axis but the last (the output units), for kernels of rank ≥ 2.
    Biases, scalars and embedding tables (sparse rows) are left as they are.
    """
    if gradient is None or isinstance(gradient, tf.IndexedSlices) or len(variable.shape) < 2 \
            or "embedding" in (getattr(variable, "path", None) or variable.name):
        return gradient
    axes = list(range(len(variable.shape) - 1))
    return gradient - tf.reduce_mean(gradient, axis=axes, keepdims=True)


def clip_rows(matrix: tf.Tensor, max_norm: float) -> tf.Tensor:
    """Each row of ``[T, P]`` scaled down to Euclidean norm ≤ ``max_norm``."""
    norms = tf.norm(matrix, axis=1, keepdims=True)
    return matrix * tf.minimum(1.0, max_norm / tf.maximum(norms, 1e-12))


def all_reduce_sum(value):
    """Sum over the replicas in sync (identity on one replica)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def replicas_in_sync() -> int:
    context = tf.distribute.get_replica_context()
    return 1 if context is None else context.num_replicas_in_sync
