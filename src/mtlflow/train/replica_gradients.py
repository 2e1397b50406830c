"""Gradients under ``tf.distribute``: what travels in the all-reduce."""

from __future__ import annotations

import tensorflow as tf

from mtlflow.train import gradients as G

DENSE_ALL_REDUCE_LIMIT = 1 << 20  # elements (4 MB of float32)


def for_all_reduce(gradients: list, variables: list, multi_worker: bool) -> list:
    """Under ``tf.distribute``, sparse gradients made dense before the all-reduce: all of them
    across workers, those of tables up to ``DENSE_ALL_REDUCE_LIMIT`` elements on one machine.

    An ``IndexedSlices`` is all-reduced by an all-gather of its rows, a few collectives per
    table, where dense gradients travel packed in one; with many small embedding tables
    (one per categorical column) the sparse path made a step several times slower.
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
