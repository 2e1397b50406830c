"""The SF-ID network: slot and intent vectors that reinforce each other (E et al., ACL 2019)."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import check_positive_int


def _masked_softmax(scores, mask):
    """Softmax over the last axis with masked positions at weight 0 (all-masked rows: 0)."""
    scores = ops.where(mask, scores, ops.cast(-1e9, scores.dtype))
    weights = ops.softmax(scores, axis=-1)
    return weights * ops.cast(mask, weights.dtype)


@keras.saving.register_keras_serializable(package="mtlflow")
class SFIDNetwork(keras.layers.Layer):
    """Bi-directional slot-intent interaction: an SF subnet and an ID subnet, iterated.

    From token states ``h_i`` (``[batch, time, d]``):

    * slot context ``c_slot_i = Σ_j softmax_j(h_i W_s h_jᵀ) h_j`` (self-attention over the
      real tokens) and intent context ``c_inte = Σ_j softmax_j(w_a · h_j) h_j``;
    * **SF subnet** (the intent gates the slots): ``f_i = v · tanh(c_slot_i + W c_inte)``,
      ``r_slot_i = f_i · c_slot_i`` (the slot-reinforce vectors);
    * **ID subnet** (the slots inform the intent):
      ``e_i = u · tanh(V_1 r_slot_i + V_2 h_i + b)``, ``r = Σ_i softmax_i(e_i) r_slot_i``,
      ``r_inte = r + c_inte`` (the intent-reinforce vector);
    * the iteration mechanism: ``iterations`` rounds, each SF subnet reading the previous
      round's ``r_inte`` in place of ``c_inte``.

    Outputs: the intent vector ``r_inte + mean_i h_i`` (the paper adds the last state;
    mean pooling suits a bidirectional encoder) and the slot states ``h_i + r_slot_i``, for
    the intent head and the slot head (CRF or softmax). Padded tokens are never attended to.

    Args:
      iterations: rounds of the SF → ID loop (default 1; the paper's best used 3 on ATIS).

    Call args:
      states: ``[batch, time, d]``; mask: ``[batch, time]`` booleans, true at real tokens.

    Returns:
      ``(intent [batch, d], slots [batch, time, d])``.

    References:
      E, Niu, Chen, Wang. "A Novel Bi-directional Interrelated Model for Joint Intent
      Detection and Slot Filling." ACL 2019.

    Example::

        intent, slots = SFIDNetwork()(keras.ops.ones((2, 5, 16)), keras.ops.ones((2, 5), "bool"))
    """

    def __init__(self, iterations: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.iterations = check_positive_int("iterations", iterations)
        self.supports_masking = True  # takes the padding mask as an input (see compute_mask)

    def build(self, states_shape, mask_shape=None):
        d = int(states_shape[-1])
        vector = lambda name: self.add_weight(shape=(d,), initializer="glorot_uniform", name=name)  # noqa: E731
        matrix = lambda name: self.add_weight(shape=(d, d), initializer="glorot_uniform", name=name)  # noqa: E731
        self.slot_attention, self.intent_attention = matrix("slot_attention"), vector("intent_attention")
        self.sf_intent, self.sf_v = matrix("sf_intent"), vector("sf_v")
        self.id_slot, self.id_state, self.id_u = matrix("id_slot"), matrix("id_state"), vector("id_u")
        self.id_bias = self.add_weight(shape=(d,), initializer="zeros", name="id_bias")

    def call(self, states, mask):
        mask = ops.cast(mask, "bool")
        pair = ops.logical_and(mask[:, :, None], mask[:, None, :])
        slot_scores = ops.matmul(ops.matmul(states, self.slot_attention), ops.transpose(states, (0, 2, 1)))
        c_slot = ops.matmul(_masked_softmax(slot_scores, pair), states)  # [b, t, d]
        alpha = _masked_softmax(ops.einsum("btd,d->bt", states, self.intent_attention), mask)
        c_inte = ops.einsum("bt,btd->bd", alpha, states)
        r_inte = c_inte
        projected_states = ops.matmul(states, self.id_state)
        for _ in range(self.iterations):
            f = ops.einsum("btd,d->bt", ops.tanh(c_slot + ops.matmul(r_inte, self.sf_intent)[:, None, :]), self.sf_v)
            r_slot = f[..., None] * c_slot
            e = ops.einsum("btd,d->bt", ops.tanh(ops.matmul(r_slot, self.id_slot) + projected_states + self.id_bias),
                           self.id_u)
            r_inte = ops.einsum("bt,btd->bd", _masked_softmax(e, mask), r_slot) + c_inte
        real = ops.cast(mask, states.dtype)[..., None]
        mean = ops.sum(states * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)
        return r_inte + mean, states + r_slot

    def compute_mask(self, *args, **kwargs):
        return None  # the padding mask is an explicit input; outputs carry none

    def compute_output_shape(self, states_shape, mask_shape=None):
        return (states_shape[0], states_shape[-1]), states_shape

    def get_config(self):
        return {**super().get_config(), "iterations": self.iterations}
