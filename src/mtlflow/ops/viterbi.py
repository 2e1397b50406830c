"""Best tag sequences under transition scores: Viterbi decoding, in TF and in NumPy.

With ``transitions`` of 0 (allowed) and ``-inf`` (forbidden) this is *constrained*
decoding: the highest-probability tag sequence that is a valid BIO/BIOES sequence
(no ``I-date`` after ``O``), instead of a per-token argmax that can break a span in
two. A CRF's learned transition matrix plugs into the same function.

    y* = argmax_y  Σ_t s_t(y_t) + Σ_t A(y_{t-1}, y_t) + start(y_1) + end(y_T)

(Viterbi, IEEE Trans. Inf. Theory 1967; Forney, Proc. IEEE 1973.)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

NEG = -1e9  # "forbidden", finite so that 0·NEG and NEG - NEG stay NaN-free


def bio_constraints(tags: list[str], scheme: str = "bio") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Transition, start and end scores (0 allowed, NEG forbidden) of a tag inventory.

    BIO: ``I-X`` only after ``B-X`` or ``I-X``. BIOES additionally: ``B-X``/``I-X`` must be
    followed by ``I-X``/``E-X``; ``E-X``/``S-X``/``O`` must not be followed by ``I-X``/``E-X``;
    a sequence cannot start inside a span nor end in an open one.
    """
    parts = [(t.partition("-")[0], t.partition("-")[2]) if t != "O" else ("O", "") for t in tags]
    k = len(tags)
    transitions = np.zeros((k, k), np.float32)
    start = np.zeros(k, np.float32)
    end = np.zeros(k, np.float32)
    continues = {"I"} if scheme == "bio" else {"I", "E"}
    opens = {"B", "I"}
    for j, (pj, kj) in enumerate(parts):
        if pj in continues:
            start[j] = NEG
        if scheme == "bioes" and pj in opens:
            end[j] = NEG
        for i, (pi, ki) in enumerate(parts):
            inside_same = pi in ("B", "I") and ki == kj
            if pj in continues and not inside_same:
                transitions[i, j] = NEG
            if scheme == "bioes" and pi in opens and not (pj in continues and ki == kj):
                transitions[i, j] = NEG
    return transitions, start, end


def viterbi_tf(scores, mask, transitions, start, end):
    """``[batch, time, tags]`` scores → ``[batch, time]`` int32 best paths (0 at padding).

    ``mask`` is ``[batch, time]`` bool with real tokens first. Runs in the graph
    (a ``tf.scan`` forward, a reverse ``tf.scan`` back-tracking), so it exports.
    """
    scores = tf.convert_to_tensor(scores, tf.float32)
    transitions = tf.constant(transitions) if isinstance(transitions, np.ndarray) else transitions
    mask = tf.cast(mask, tf.bool)
    batch, k = tf.shape(scores)[0], tf.shape(scores)[2]
    first = scores[:, 0] + start
    steps = tf.transpose(scores[:, 1:], [1, 0, 2])  # [time-1, batch, tags]
    step_mask = tf.transpose(mask[:, 1:], [1, 0])

    def forward(carry, inputs):
        alpha, _ = carry
        emission, valid = inputs
        candidates = alpha[:, :, None] + transitions[None]  # [batch, from, to]
        best_from = tf.argmax(candidates, axis=1, output_type=tf.int32)
        new_alpha = tf.reduce_max(candidates, axis=1) + emission
        keep = valid[:, None]
        identity = tf.broadcast_to(tf.range(k)[None], tf.shape(best_from))
        return tf.where(keep, new_alpha, alpha), tf.where(keep, best_from, identity)

    alphas, pointers = tf.scan(forward, (steps, step_mask),
                               initializer=(first, tf.zeros([batch, k], tf.int32)))
    # the last alpha (``first`` for one-token batches; no cond, whose untaken branch would
    # still have to build ``alphas[-1]`` on an empty, statically known shape)
    final = tf.concat([first[None], alphas], axis=0)[-1]
    last = tf.argmax(final + end, axis=1, output_type=tf.int32)

    def backward(tag, pointer):
        return tf.gather(pointer, tag, batch_dims=1)

    earlier = tf.scan(backward, pointers, initializer=last, reverse=True)  # [time-1, batch]
    path = tf.concat([tf.transpose(earlier, [1, 0]), last[:, None]], axis=1)
    return tf.where(mask, path, 0)


def viterbi_numpy(scores: np.ndarray, transitions: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """One sequence's best path, ``scores`` ``[time, tags]`` (no padding)."""
    alpha = scores[0] + start
    pointers = []
    for t in range(1, len(scores)):
        candidates = alpha[:, None] + transitions
        pointers.append(np.argmax(candidates, axis=0))
        alpha = np.max(candidates, axis=0) + scores[t]
    path = [int(np.argmax(alpha + end))]
    for pointer in reversed(pointers):
        path.append(int(pointer[path[-1]]))
    return np.array(path[::-1], np.int32)
