"""Linear-chain conditional random field (CRF) over per-token emission scores."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from mtlflow.layers.experts import check_positive_int
from mtlflow.ops.viterbi import bio_constraints, viterbi_tf

SCHEMES = ("bio", "bioes")


@keras.saving.register_keras_serializable(package="mtlflow")
class CRF(keras.layers.Layer):
    """Linear-chain CRF: learned tag transitions on top of per-token emission scores.

    A tag sequence ``y`` of a sentence of ``n`` tokens with emission scores ``e_t(·)``
    (e.g. a BiLSTM's ``[batch, time, tags]`` output) scores

        s(y) = start(y_1) + Σ_{t=1..n} e_t(y_t) + Σ_{t=2..n} A(y_{t-1}, y_t) + end(y_n)

    with a learned transition matrix ``A`` and start/end vectors, and has probability
    ``p(y | x) = exp s(y) / Z``. The log-partition ``log Z = log Σ_y' exp s(y')`` comes
    from the forward algorithm, a log-sum-exp recursion over time:

        α_1(j) = start(j) + e_1(j),    α_t(j) = log Σ_i exp(α_{t-1}(i) + A(i, j)) + e_t(j),
        log Z  = log Σ_j exp(α_n(j) + end(j)).

    The loss is ``-log p(y | x) = log Z - s(y)``; decoding is the Viterbi argmax
    (:func:`~mtlflow.tasks.viterbi.viterbi_tf`, in the graph, so an exported SavedModel
    decodes); per-token marginals ``p(y_t = j | x) = ∂ log Z / ∂ e_t(j)`` come from
    differentiating the forward algorithm (forward-backward as backprop).

    With ``tags`` and ``scheme`` the transitions that the scheme forbids (``I-X`` after
    ``O``; for BIOES also ending inside a span, ...) get
    :data:`~mtlflow.tasks.viterbi.NEG` (−1e9) added, in the likelihood and in decoding:
    the distribution covers valid sequences only (their learned entries get no gradient).

    In ``call`` the layer is the identity on the emission scores: a model's output stays
    ``[batch, time, tags]`` scores that a loss can read and an evaluator can slice per
    sentence; the structured parts are the methods below. ``mask`` arguments are
    ``[batch, time]`` booleans with the real tokens first; padded positions change
    neither the likelihood nor the decoded path.

    Args:
        num_tags: number of tags ``K``.
        tags: the tag names in score order (``"O"``, ``"B-date"``, ...), for ``scheme``.
        scheme: ``"bio"`` or ``"bioes"`` to forbid invalid transitions; ``None``
            (default) learns every transition freely.

    Returns (from ``call``):
        The emission scores, unchanged, ``[batch, time, K]``.

    References:
        Lafferty, McCallum, Pereira. "Conditional Random Fields: Probabilistic Models for
        Segmenting and Labeling Sequence Data." ICML 2001.
        Lample, Ballesteros, Subramanian, Kawakami, Dyer. "Neural Architectures for Named
        Entity Recognition." NAACL 2016 (BiLSTM-CRF).
        Eisner. "Inside-Outside and Forward-Backward Algorithms Are Just Backprop." 2016.

    Example::

        crf = mtlflow.layers.CRF(3, tags=["O", "B-x", "I-x"], scheme="bio")
        emissions = keras.ops.ones((2, 4, 3))
        crf(emissions)                                   # builds it; returns emissions
        crf.negative_log_likelihood(emissions, tags, mask)   # [2]
        crf.decode(emissions, mask)                      # [2, 4] int32 best paths
    """

    def __init__(self, num_tags: int, *, tags: list[str] | None = None, scheme: str | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tags = check_positive_int("num_tags", num_tags)
        if scheme is not None and scheme not in SCHEMES:
            raise ValueError(f"Argument `scheme` must be one of {', '.join(SCHEMES)} or None. Received: scheme={scheme!r}")
        if tags is not None:
            tags = list(tags)
            if len(tags) != self.num_tags or not all(isinstance(t, str) for t in tags):
                raise ValueError(f"Argument `tags` must be {self.num_tags} tag names (num_tags). Received: tags={tags!r}")
        if scheme is not None and tags is None:
            raise ValueError(f"Argument `tags` is required with a scheme, to know which transitions it forbids. "
                             f"Received: scheme={scheme!r}, tags=None")
        self.tags, self.scheme = tags, scheme
        if scheme is None:
            k = self.num_tags
            self.constraints = (np.zeros((k, k), np.float32), np.zeros(k, np.float32), np.zeros(k, np.float32))
        else:
            self.constraints = bio_constraints(tags, scheme)
        self.supports_masking = True  # the output is the input's shape: a padding mask carries over

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.num_tags:
            raise ValueError(f"CRF with num_tags={self.num_tags} got emission scores of shape {tuple(input_shape)}; "
                             f"the last axis must be num_tags")
        k = self.num_tags
        self.transitions = self.add_weight(shape=(k, k), initializer="zeros", name="transitions")
        self.start_transitions = self.add_weight(shape=(k,), initializer="zeros", name="start_transitions")
        self.end_transitions = self.add_weight(shape=(k,), initializer="zeros", name="end_transitions")

    def call(self, inputs):
        return keras.ops.cast(inputs, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    # ---- the structured parts ----------------------------------------------------
    def potentials(self):
        """``(A, start, end)`` as float32 tensors: learned values plus the constraints."""
        forbid_a, forbid_start, forbid_end = self.constraints
        return (tf.cast(self.transitions, tf.float32) + forbid_a,
                tf.cast(self.start_transitions, tf.float32) + forbid_start,
                tf.cast(self.end_transitions, tf.float32) + forbid_end)

    def numpy_potentials(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`potentials` as NumPy arrays, for :func:`~mtlflow.tasks.viterbi.viterbi_numpy`."""
        return tuple(np.asarray(keras.ops.convert_to_numpy(p), np.float32) for p in self.potentials())

    def forward_scores(self, emissions):
        """``α_t(j)`` for every position (no mask: position ``t`` only reads ``≤ t``), ``[batch, time, K]``."""
        emissions = tf.cast(emissions, tf.float32)
        transitions, start, _ = self.potentials()
        first = emissions[:, 0] + start

        def step(alpha, emission):
            return tf.reduce_logsumexp(alpha[:, :, None] + transitions[None], axis=1) + emission

        rest = tf.scan(step, tf.transpose(emissions[:, 1:], [1, 0, 2]), initializer=first)
        return tf.concat([first[:, None], tf.transpose(rest, [1, 0, 2])], axis=1)

    def log_partition(self, emissions, mask):
        """``log Z`` per sentence, ``[batch]`` (0 for a sentence without tokens)."""
        emissions, mask, _ = _padded(emissions, mask)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        alpha = tf.gather(self.forward_scores(emissions), tf.maximum(lengths - 1, 0), batch_dims=1)
        log_z = tf.reduce_logsumexp(alpha + self.potentials()[2], axis=1)
        return tf.where(lengths > 0, log_z, 0.0)

    def sequence_score(self, emissions, tags, mask):
        """``s(y)`` of the given tag ids ``[batch, time]`` per sentence, ``[batch]``."""
        emissions, mask, _ = _padded(emissions, mask)
        tags = _padded_tags(tags, tf.shape(emissions)[1])
        valid = tf.cast(mask, tf.float32)
        lengths = tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)
        last = tf.gather(tags, tf.maximum(lengths - 1, 0), batch_dims=1)
        score = tf.reduce_sum(self._steps(emissions, tags) * valid, axis=1) + tf.gather(self.potentials()[2], last)
        return tf.where(lengths > 0, score, 0.0)

    def negative_log_likelihood(self, emissions, tags, mask):
        """``-log p(y | x) = log Z - s(y)`` per sentence, ``[batch]``."""
        return self.log_partition(emissions, mask) - self.sequence_score(emissions, tags, mask)

    def token_losses(self, emissions, tags):
        """Per-token terms ``ℓ_t = NLL(y_1..t) - NLL(y_1..t-1)``, ``[batch, time]``.

        ``NLL(y_1..t)`` is the negative log-likelihood of the sentence cut after token
        ``t``, so ``Σ_{t ≤ n} ℓ_t`` is the sentence's NLL for every length ``n``: masking
        the padding away (as the trainer does per token) leaves exactly each sentence's
        NLL, whatever the padding holds. Single terms may be negative. The end
        *constraint* is left out of the telescoped gold score (a cut inside a span would
        add and remove −1e9): the sum is exact for gold sequences that end validly.
        With all potentials zero, ``ℓ_t`` is the softmax cross-entropy of token ``t``.
        """
        emissions, _, width = _padded(emissions, tf.ones(tf.shape(emissions)[:2], tf.bool))
        tags = _padded_tags(tags, tf.shape(emissions)[1])
        _, _, end = self.potentials()
        log_z = tf.reduce_logsumexp(self.forward_scores(emissions) + end[None, None], axis=2)  # [batch, time]
        learned_end = tf.gather(tf.cast(self.end_transitions, tf.float32), tags)
        gold = self._steps(emissions, tags) + learned_end - _shift_right(learned_end)
        return (log_z - _shift_right(log_z) - gold)[:, :width]

    def decode(self, emissions, mask):
        """Viterbi best tag ids ``[batch, time]`` int32 (0 at padding)."""
        emissions, mask, width = _padded(emissions, mask)
        return viterbi_tf(emissions, mask, *self.potentials())[:, :width]

    def marginals(self, emissions, mask):
        """``p(y_t = j | x)`` ``[batch, time, K]`` (0 at padding): the gradient of ``log Z``."""
        emissions = tf.cast(emissions, tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(emissions)
            log_z = tf.reduce_sum(self.log_partition(emissions, mask))
        marginals = tape.gradient(log_z, emissions, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return tf.where(tf.cast(mask, tf.bool)[..., None], marginals, 0.0)

    def _steps(self, emissions, tags):
        """Gold score of each position without the end term: ``e_t(y_t) + A(y_{t-1}, y_t)`` (``start`` at t=1)."""
        transitions, start, _ = self.potentials()
        emitted = tf.gather(emissions, tags, batch_dims=2)
        pairs = tf.gather_nd(transitions, tf.stack([tags[:, :-1], tags[:, 1:]], axis=-1))
        return emitted + tf.concat([tf.gather(start, tags[:, :1]), pairs], axis=1)

    def get_config(self):
        return {**super().get_config(), "num_tags": self.num_tags, "tags": self.tags, "scheme": self.scheme}


def _shift_right(x):
    """``[batch, time]`` → the same with a 0 in front and the last column dropped."""
    return tf.pad(x, [[0, 0], [1, 0]])[:, :-1]


def _padded(emissions, mask):
    """Emissions (float32) and mask with at least one time step, and the original width."""
    emissions = tf.cast(emissions, tf.float32)
    mask = tf.cast(mask, tf.bool)
    width = tf.shape(emissions)[1]
    extra = tf.maximum(1 - width, 0)
    return (tf.pad(emissions, [[0, 0], [0, extra], [0, 0]]), tf.pad(mask, [[0, 0], [0, extra]]), width)


def _padded_tags(tags, width):
    tags = tf.cast(tags, tf.int32)
    return tf.pad(tags, [[0, 0], [0, tf.maximum(width - tf.shape(tags)[1], 0)]])[:, :width]
