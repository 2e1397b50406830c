"""The co-interactive module: intent and slot streams attend to each other."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import check_positive_int


@keras.saving.register_keras_serializable(package="mtlflow")
class CoInteractiveAttention(keras.layers.Layer):
    """One co-interactive layer of the Co-Interactive Transformer (Qin et al., ICASSP 2021).

    The intent stream ``H_I`` and the slot stream ``H_S`` (``[batch, time, d]``, e.g. from
    :class:`~mtlflow.layers.LabelAttention`) are updated in both directions at once:

    1. co-interactive attention, each stream's queries reading the *other* stream::

           Q_S, K_S, V_S = H_S W_Q^S, H_S W_K^S, H_S W_V^S   (and likewise for I)
           H_S' = LN(H_S + softmax(Q_S K_Iᵀ / √d) V_I)     intent-aware slot states
           H_I' = LN(H_I + softmax(Q_I K_Sᵀ / √d) V_S)     slot-aware intent states

    2. a feed-forward network over both, added back to each::

           F = ReLU([H_I' ; H_S'] W_1 + b_1) W_2 + b_2
           H_I'' = LN(H_I' + F),   H_S'' = LN(H_S' + F)

    Keys at padded tokens (``mask`` false) get no attention weight; outputs at padded
    tokens are whatever the arithmetic gives and are masked by the tasks' losses.

    Args:
      ff_units: hidden width of the feed-forward network (default 256).
      dropout: dropout on the attention weights and the feed-forward output while
        training (default 0.1).

    Call args:
      intent_states, slot_states: ``[batch, time, d]``, the same ``d``.
      mask: ``[batch, time]`` booleans, true at real tokens.

    Returns:
      ``(intent_states'', slot_states'')``, both ``[batch, time, d]``.

    References:
      Qin, Liu, Che, Wang, Li, Liu. "A Co-Interactive Transformer for Joint Slot Filling
      and Intent Detection." ICASSP 2021, §2.3–2.4.

    Example::

        h = keras.ops.ones((2, 5, 16))
        intent, slots = CoInteractiveAttention()(h, h, keras.ops.ones((2, 5), "bool"))
    """

    def __init__(self, ff_units: int = 256, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        self.ff_units = check_positive_int("ff_units", ff_units)
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"Argument `dropout` must be in [0, 1). Received: dropout={dropout!r}")
        self.dropout_rate = float(dropout)
        self.dropout = keras.layers.Dropout(self.dropout_rate)
        self.supports_masking = True  # takes the padding mask as an input (see compute_mask)

    def build(self, intent_states_shape, slot_states_shape, mask_shape=None):
        intent_shape, slot_shape = intent_states_shape, slot_states_shape
        d = intent_shape[-1]
        if slot_shape[-1] != d:
            raise ValueError(f"intent and slot states must have the same width; got {d} and {slot_shape[-1]}")
        self.dim = int(d)
        dense = lambda name, units=d: keras.layers.Dense(units, name=name)  # noqa: E731
        self.projections = {f"{w}_{s}": dense(f"{w}_{s}") for s in ("intent", "slot") for w in ("query", "key", "value")}
        for layer in self.projections.values():
            layer.build(intent_shape)
        self.ff_hidden = dense("ff_hidden", self.ff_units)
        self.ff_hidden.build((*intent_shape[:-1], 2 * d))
        self.ff_out = dense("ff_out")
        self.ff_out.build((*intent_shape[:-1], self.ff_units))
        self.norms = [keras.layers.LayerNormalization(epsilon=1e-6, name=f"norm_{i}") for i in range(4)]
        for norm in self.norms:
            norm.build(intent_shape)

    def _attend(self, queries, keys, values, mask, training):
        scores = ops.matmul(queries, ops.transpose(keys, (0, 2, 1))) / ops.sqrt(ops.cast(self.dim, queries.dtype))
        scores = ops.where(mask[:, None, :], scores, ops.cast(-1e9, scores.dtype))
        weights = self.dropout(ops.softmax(scores, axis=-1), training=training)
        return ops.matmul(weights, values)

    def call(self, intent_states, slot_states, mask, training=None):
        mask = ops.cast(mask, "bool")
        p = self.projections
        q_i, k_i, v_i = p["query_intent"](intent_states), p["key_intent"](intent_states), p["value_intent"](intent_states)
        q_s, k_s, v_s = p["query_slot"](slot_states), p["key_slot"](slot_states), p["value_slot"](slot_states)
        slot_mid = self.norms[0](slot_states + self._attend(q_s, k_i, v_i, mask, training))
        intent_mid = self.norms[1](intent_states + self._attend(q_i, k_s, v_s, mask, training))
        both = ops.concatenate([intent_mid, slot_mid], axis=-1)
        ff = self.dropout(self.ff_out(ops.relu(self.ff_hidden(both))), training=training)
        return self.norms[2](intent_mid + ff), self.norms[3](slot_mid + ff)

    def compute_mask(self, *args, **kwargs):
        return None  # the padding mask is an explicit input; outputs carry none

    def compute_output_shape(self, intent_states_shape, slot_states_shape, mask_shape=None):
        return intent_states_shape, slot_states_shape

    def get_config(self):
        return {**super().get_config(), "ff_units": self.ff_units, "dropout": self.dropout_rate}
