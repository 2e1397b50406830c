"""tf.data pipelines over an encoded split: shuffle, batch (padded or bucketed), mask, prefetch.

Each element is ``(inputs, labels, masks)``: model inputs, per-task labels and per-task
masks. A token-level task's mask is ``[batch, time]``: its example mask times the
token mask, so padding never counts. The model inputs are computed once per split by
the :class:`~mtlflow.model.preprocessor.Preprocessor`; an epoch only permutes them,
with a permutation seeded by ``seed + epoch``, so a resumed run sees the same batches
as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.data.encode import EncodedSplit
from mtlflow.tasks import Task


class SplitData:
    """A split's model inputs, labels and masks as tensors, with epoch pipelines over them."""

    def __init__(self, split: EncodedSplit, preprocessor, tasks: dict[str, Task]):
        self.size = len(split)
        self.unseen = split.unseen  # gold labels unseen in training, for the evaluator
        self.tasks = tasks
        self.inputs = preprocessor.transform(split.features)
        self.labels = {}
        for name, task in tasks.items():
            values = split.labels[name]
            if task.level == "token":
                lengths = np.array([len(v) for v in values], np.int64)
                flat = np.concatenate(values).astype(np.int32) if len(values) else np.zeros(0, np.int32)
                self.labels[name] = tf.RaggedTensor.from_row_lengths(flat, lengths)
            else:
                self.labels[name] = tf.constant(values)
        self.masks = {name: tf.constant(m) for name, m in split.masks.items()}

    def _elements(self, order: np.ndarray | None) -> tf.data.Dataset:
        parts = (self.inputs, self.labels, self.masks)
        if order is not None:
            index = tf.constant(order)
            parts = tf.nest.map_structure(lambda t: tf.gather(t, index), parts)
        # Slices of a ragged tensor come out as rank-0-ragged specs; padded_batch wants dense.
        dense = lambda t: t.to_tensor() if isinstance(t, tf.RaggedTensor) else t  # noqa: E731
        return tf.data.Dataset.from_tensor_slices(parts).map(
            lambda *p: tf.nest.map_structure(dense, p), num_parallel_calls=tf.data.AUTOTUNE
        )

    def _padding(self):
        inputs = {k: tf.constant(0, v.dtype) for k, v in self.inputs.items()}
        labels = {
            k: tf.constant(-1 if self.tasks[k].level == "token" else 0, v.dtype)
            for k, v in self.labels.items()
        }
        masks = {k: tf.constant(0, v.dtype) for k, v in self.masks.items()}
        return inputs, labels, masks

    def _finish(self, inputs, labels, masks):
        labels, masks = dict(labels), dict(masks)
        for name, task in self.tasks.items():
            if task.level == "token":
                words = inputs.get("word_starts", inputs.get("token_ids"))  # word-level width
                if words is not None:  # a batch whose longest text has no tags: widen the labels
                    missing = tf.shape(words)[1] - tf.shape(labels[name])[1]
                    labels[name] = tf.pad(labels[name], [[0, 0], [0, tf.maximum(missing, 0)]], constant_values=-1)
                valid = tf.cast(labels[name] >= 0, tf.float32)
                masks[name] = valid * masks[name][:, None]
                labels[name] = tf.maximum(labels[name], 0)
        return inputs, labels, masks

    def batches(
        self,
        batch_size: int,
        *,
        shuffle_seed: int | None = None,
        bucket_boundaries: list[int] | None = None,
    ) -> tf.data.Dataset:
        """One epoch of batches; shuffled by ``shuffle_seed`` (None keeps file order)."""
        order = None
        if shuffle_seed is not None:
            order = np.random.default_rng(shuffle_seed).permutation(self.size)
        ds = self._elements(order)
        padding = self._padding()
        if bucket_boundaries and "token_ids" in self.inputs:
            ds = ds.bucket_by_sequence_length(
                lambda inputs, labels, masks: tf.shape(inputs["token_ids"])[0],
                bucket_boundaries=bucket_boundaries,
                bucket_batch_sizes=[batch_size] * (len(bucket_boundaries) + 1),
                padding_values=padding,
            )
        else:
            ds = ds.padded_batch(batch_size, padding_values=padding)
        return ds.map(self._finish, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
