"""Token-level intent detection with voting (Stack-Propagation, Qin et al., EMNLP 2019)."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import check_positive_int


@keras.saving.register_keras_serializable(package="mtlflow")
class TokenIntentVoting(keras.layers.Layer):
    """Predicts the intent at every token, then lets the tokens vote for the utterance's.

    Stack-Propagation decodes the intent *per token*: a unidirectional LSTM over the
    encoder states ``h_t`` gives ``p_t = softmax(W · LSTM(h)_t + b)`` at every real token.
    Every token is trained towards the utterance's intent, which spreads the intent signal
    over the sentence and so lowers the error one wrongly attended word can cause; the
    utterance intent is the majority vote of the tokens' predictions. The token
    distributions ``p_t`` are also what the slot decoder reads at token ``t`` (the "stack":
    the slot loss back-propagates into the intent decoder).

    The utterance distribution this layer returns (the intent task's output):

    * training: the normalised geometric mean of the tokens' distributions,
      ``q(k) ∝ exp((1/n) Σ_t log p_t(k))`` over the ``n`` real tokens, so the intent task's
      cross-entropy is ``-log q(y) = (1/n) Σ_t -log p_t(y) + log Z``, the paper's mean
      token-level cross-entropy plus ``log Z = log Σ_k exp((1/n) Σ_t log p_t(k)) ≤ 0``
      (AM-GM), which rewards agreement between tokens;
    * inference: the vote, ``(v(k) + q(k)) / (n + 1)`` with ``v(k)`` the number of tokens whose
      argmax is ``k``: its argmax is the majority vote (one vote outweighs any ``q``
      difference, which is below 1), ties broken by ``q``.

    Padded tokens (``mask`` false) neither vote nor enter the mean. An utterance with no
    real token gets the uniform distribution.

    Args:
      num_intents: number of intents ``K``.
      units: the intent decoder LSTM's width (default 64, the paper's).
      dropout: dropout on the decoder's input while training (default 0).

    Call args:
      states: encoder token states ``[batch, time, d]``.
      mask: ``[batch, time]`` booleans, true at real tokens (right padding).

    Returns:
      ``(utterance [batch, K], tokens [batch, time, K])``: the utterance distribution and
      every token's intent distribution (0 at padding).

    References:
      Qin, Che, Li, Wen, Liu. "A Stack-Propagation Framework with Token-Level Intent
      Detection for Spoken Language Understanding." EMNLP-IJCNLP 2019.

    Example::

        utterance, tokens = TokenIntentVoting(7)(keras.ops.ones((2, 5, 16)), keras.ops.ones((2, 5), "bool"))
    """

    def __init__(self, num_intents: int, units: int = 64, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_intents = check_positive_int("num_intents", num_intents)
        self.units = check_positive_int("units", units)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Argument `dropout` must be in [0, 1). Received: dropout={dropout!r}")
        self.dropout_rate = float(dropout)
        self.decoder = keras.layers.LSTM(self.units, return_sequences=True, name="decoder")
        self.classifier = keras.layers.Dense(self.num_intents, name="classifier")
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.supports_masking = True  # takes the padding mask as an input (see compute_mask)

    def call(self, states, mask, training=None):
        mask = ops.cast(mask, "bool")
        x = self.dropout(states, training=training)
        token_logits = self.classifier(self.decoder(x, mask=mask, training=training))
        log_p = ops.log_softmax(token_logits, axis=-1)
        real = ops.cast(mask, log_p.dtype)[..., None]
        count = ops.sum(real, axis=1)  # [batch, 1]
        mean_log_p = ops.sum(log_p * real, axis=1) / ops.maximum(count, 1.0)
        geometric = ops.softmax(mean_log_p, axis=-1)
        tokens = ops.exp(log_p) * real
        if training:
            return geometric, tokens
        votes = ops.sum(ops.one_hot(ops.argmax(log_p, axis=-1), self.num_intents, dtype=log_p.dtype) * real, axis=1)
        return (votes + geometric) / (count + 1.0), tokens

    def compute_mask(self, *args, **kwargs):
        return None  # the padding mask is an explicit input; outputs carry none

    def compute_output_shape(self, states_shape, mask_shape=None):
        return (states_shape[0], self.num_intents), (*states_shape[:2], self.num_intents)

    def get_config(self):
        return {**super().get_config(), "num_intents": self.num_intents, "units": self.units,
                "dropout": self.dropout_rate}
