"""Condition token states on a sentence-level prediction: ``[h_t ; p]`` at every token.

A tagging task with ``condition_on: <multiclass task>`` reads, at every token ``t``, its
token state ``h_t`` next to that task's predicted distribution ``p`` (e.g. the intent):

    x_t = [h_t ; sg(p)]        (sg = stop-gradient, unless ``stop_gradient=False``)

so the tagger's tower and head can give each tag a score that depends on the predicted
class (``play_music`` makes ``artist`` likely, ``book_restaurant`` makes it unlikely). This
is the intent → slot direction of joint models: the slot-gated model (Goo et al., NAACL
2018) gates slot states with the intent context vector; Stack-Propagation (Qin et al.,
EMNLP 2019) feeds the intent prediction into the slot decoder.

Example::

    x = TokenConditioning(name="slots_condition")(token_states, intent_probabilities)
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mtlflow")
class TokenConditioning(keras.layers.Layer):
    """``(states [batch, time, d], p [batch, k]) → [batch, time, d + k]``.

    Args:
      stop_gradient: treat ``p`` as a constant (default), so the conditioned task's loss
        does not move the source task's prediction.
    """

    def __init__(self, stop_gradient: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.stop_gradient = bool(stop_gradient)
        self.supports_masking = True  # the token states' padding mask passes through

    def call(self, states, condition):
        if self.stop_gradient:
            condition = ops.stop_gradient(condition)
        condition = ops.cast(condition, states.dtype)
        time = ops.shape(states)[1]
        tiled = ops.repeat(ops.expand_dims(condition, 1), time, axis=1)
        return ops.concatenate([states, tiled], axis=-1)

    def compute_output_shape(self, states_shape, condition_shape):
        return (*states_shape[:-1], states_shape[-1] + condition_shape[-1])

    def get_config(self):
        return {**super().get_config(), "stop_gradient": self.stop_gradient}
