"""An epoch's batches, and how many there are."""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf


def epoch_batches(data, batch_size: int, seed: int | None = None, buckets=None) -> tf.data.Dataset:
    """One epoch's batches: a ``SplitData`` shuffled with ``seed`` (bucketed by length with
    ``buckets``), or a ``tf.data.Dataset`` as given."""
    if isinstance(data, tf.data.Dataset):
        return data
    return data.batches(batch_size, shuffle_seed=seed, bucket_boundaries=buckets)


def steps_per_epoch(data, batch_size: int, buckets) -> int | None:
    """Batches in one epoch of ``data`` (None when a dataset does not know its size)."""
    if isinstance(data, tf.data.Dataset):
        steps = int(data.cardinality())
        return steps if steps > 0 else None
    if not buckets:
        return math.ceil(data.size / batch_size)
    ids = data.inputs.get("token_ids")
    if not isinstance(ids, tf.RaggedTensor):
        return None
    # bucket_by_sequence_length: bucket i holds lengths in [b[i-1], b[i]); each ends with a partial batch
    bucket = np.searchsorted(np.asarray(buckets), ids.row_lengths().numpy(), side="right")
    return int(sum(math.ceil(c / batch_size) for c in np.bincount(bucket) if c))
