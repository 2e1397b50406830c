"""Spans decoded inside the graph equal the Python conlleval chunks, on random tag sequences."""

import random

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.evaluate.spans import spans_from_tags
from mtlflow.tasks.span_decoding import decode_spans


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_graph_spans_match_python_spans(scheme):
    prefixes = "BI" if scheme == "bio" else "BIES"
    tags = ["O"] + [f"{p}-{t}" for t in ("date", "object", "x") for p in prefixes]
    rng = random.Random(0)
    batch, lengths = [], []
    for _ in range(300):
        n = rng.randint(1, 12)
        batch.append([rng.randrange(len(tags)) for _ in range(n)])
        lengths.append(n)
    width = max(lengths)
    ids = np.zeros((len(batch), width), np.int32)
    mask = np.zeros((len(batch), width), bool)
    tokens = np.full((len(batch), width), "", object)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = row
        mask[i, : len(row)] = True
        tokens[i, : len(row)] = [f"t{j}" for j in range(len(row))]
    out = decode_spans(tf.constant(ids), tf.constant(mask), tf.constant(tokens.astype(str)), tags, " ")
    for i, row in enumerate(batch):
        expected = spans_from_tags([tags[t] for t in row], scheme)
        got = [
            (k.decode(), int(s), int(e))
            for k, s, e in zip(out["types"][i].numpy(), out["starts"][i].numpy(), out["ends"][i].numpy())
            if s >= 0
        ]
        assert got == expected, [tags[t] for t in row]
        texts = [t.decode() for t in out["texts"][i].numpy() if t]
        assert texts == [" ".join(f"t{j}" for j in range(s, e)) for _, s, e in expected]


def test_no_spans_gives_empty_padding():
    out = decode_spans(tf.constant([[0, 0]]), tf.constant([[True, True]]), tf.constant([["a", "b"]]),
                       ["O", "B-x", "I-x"], "")
    assert out["types"].shape == (1, 0)
