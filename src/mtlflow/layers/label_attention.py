"""Label attention: token states enriched with the label embeddings they attend to."""

from __future__ import annotations

import keras
from keras import ops

from mtlflow.layers.experts import check_positive_int


@keras.saving.register_keras_serializable(package="mtlflow")
class LabelAttention(keras.layers.Layer):
    """``H_L = H + softmax(H Wᵀ) W`` with one learned embedding per label (rows of ``W``).

    Every token state ``h_t`` attends over the ``L`` label embeddings ``w_1..w_L`` (``W`` is
    ``[L, d]``) and adds the attended mixture, so the state carries explicit label
    information: with the intent labels this gives the intent stream ``H_I``, with the slot
    tags the slot stream ``H_S`` of the Co-Interactive Transformer, which then exchange
    information through :class:`~mtlflow.layers.CoInteractiveAttention`. (The paper ties
    ``W`` to the output layer's weights; here it is its own weight, which the output layer
    with a tower or a CRF on top would not share in shape anyway.)

    Args:
      num_labels: number of labels ``L``.

    Call args:
      states: ``[batch, time, d]`` (or ``[batch, d]``).

    Returns:
      Same shape as ``states``.

    References:
      Qin, Liu, Che, Wang, Li, Liu. "A Co-Interactive Transformer for Joint Slot Filling
      and Intent Detection." ICASSP 2021, §2.2.
      Cui, Zhang. "Hierarchically-Refined Label Attention Network for Sequence Labeling."
      EMNLP 2019.

    Example::

        enriched = LabelAttention(7)(keras.ops.ones((2, 5, 16)))
    """

    def __init__(self, num_labels: int, **kwargs):
        super().__init__(**kwargs)
        self.num_labels = check_positive_int("num_labels", num_labels)
        self.supports_masking = True  # token-wise: a padding mask passes through

    def build(self, states_shape):
        self.label_embeddings = self.add_weight(
            shape=(self.num_labels, states_shape[-1]), initializer="glorot_uniform", name="label_embeddings")

    def call(self, states):
        weights = ops.softmax(ops.matmul(states, ops.transpose(self.label_embeddings)), axis=-1)
        return states + ops.matmul(weights, self.label_embeddings)

    def compute_output_shape(self, states_shape):
        return states_shape

    def get_config(self):
        return {**super().get_config(), "num_labels": self.num_labels}
