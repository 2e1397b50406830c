"""Gradients under ``tf.distribute``: what travels in the all-reduce, and each replica's share."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.train import gradients as G

DENSE_ALL_REDUCE_LIMIT = 1 << 20  # elements (4 MB of float32)


def for_all_reduce(gradients: list, variables: list, multi_worker: bool) -> list:
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


def replica_share(gradient, replicas: int):
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
