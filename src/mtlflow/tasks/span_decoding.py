"""Tag sequences to spans inside the TensorFlow graph (BIO / BIOES, conlleval rules).

The exported model returns spans, not only tags, so a TF Serving client gets
``date=昨天`` without re-implementing chunking. The rules match
:func:`mtlflow.evaluate.spans.spans_from_tags` (tested for parity): a chunk starts at
``B-X`` or ``S-X``, or at ``I-X``/``E-X`` when the previous token is outside a chunk of
type X or that chunk was closed by ``E-``/``S-``; ``O`` and padding end a chunk.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

_PREFIX_CODES = {"O": 0, "B": 1, "I": 2, "E": 3, "S": 4}


def tag_tables(tags: list[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per tag id: its prefix code (O/B/I/E/S → 0..4), its span-type id, and the type names."""
    types: list[str] = []
    prefixes, type_ids = [], []
    for tag in tags:
        if tag == "O" or tag in ("PAD", "UNK"):
            prefixes.append(0)
            type_ids.append(-1)
            continue
        prefix, _, kind = tag.partition("-")
        if not kind or prefix not in _PREFIX_CODES:  # a bare type counts as I-<type>
            prefix, kind = "I", tag
        if kind not in types:
            types.append(kind)
        prefixes.append(_PREFIX_CODES[prefix])
        type_ids.append(types.index(kind))
    return np.array(prefixes, np.int32), np.array(type_ids, np.int32), types


def decode_spans(tag_ids, token_mask, tokens, tags: list[str], joiner: str) -> dict[str, tf.Tensor]:
    """Chunks of a batch of tag sequences.

    Args:
      tag_ids: ``[batch, time]`` int predicted tag ids.
      token_mask: ``[batch, time]`` bool, True at real tokens.
      tokens: ``[batch, time]`` strings.
      tags: the tag inventory (id → tag).
      joiner: glue between tokens of one span ("" for characters, " " for words).

    Returns:
      ``types``, ``texts`` (``[batch, spans]`` strings, "" as padding) and ``starts``,
      ``ends`` (``[batch, spans]`` int32 token offsets, end exclusive, -1 as padding).
    """
    prefix_table, type_table, type_names = tag_tables(tags)
    prefix = tf.gather(tf.constant(prefix_table), tag_ids)
    kind = tf.gather(tf.constant(type_table), tag_ids)
    inside = (prefix != 0) & token_mask
    kind = tf.where(inside, kind, -1)

    def shifted(x, fill):
        return tf.concat([tf.fill([tf.shape(x)[0], 1], fill), x[:, :-1]], axis=1)

    closes = inside & ((prefix == 3) | (prefix == 4))
    start = inside & (
        (prefix == 1)
        | (prefix == 4)
        | ~shifted(inside, False)
        | (shifted(kind, -1) != kind)
        | shifted(closes, False)
    )
    spans_per_row = tf.reduce_sum(tf.cast(start, tf.int32), axis=1)
    row_offset = tf.cumsum(spans_per_row, exclusive=True)
    local_id = tf.cumsum(tf.cast(start, tf.int32), axis=1) - 1
    global_id = local_id + row_offset[:, None]
    positions = tf.where(inside)  # [n, 2] row-major, so segment ids are non-decreasing
    segment = tf.gather_nd(global_id, positions)
    total = tf.reduce_sum(spans_per_row)

    texts = tf.strings.unsorted_segment_join(
        tf.gather_nd(tokens, positions), segment, total, separator=joiner
    )
    column = tf.cast(positions[:, 1], tf.int32)
    starts = tf.math.unsorted_segment_min(column, segment, total)
    ends = tf.math.unsorted_segment_max(column, segment, total) + 1
    start_kind = tf.gather_nd(kind, tf.where(start))
    types = tf.gather(tf.constant(type_names or [""]), start_kind)

    def padded(values, fill):
        return tf.RaggedTensor.from_row_lengths(values, spans_per_row).to_tensor(fill)

    return {
        "types": padded(types, ""),
        "texts": padded(texts, ""),
        "starts": padded(starts, -1),
        "ends": padded(ends, -1),
    }
