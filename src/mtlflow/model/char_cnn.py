"""Character-CNN word features: each word's characters → one vector per word.

A word's characters are embedded, convolved with ``filters`` filters of each width in
``widths`` and max-pooled over the word's real characters:

    c_j = E[char_j] · m_j                       (m_j = 1 for a real character, 0 for padding)
    h^w_j = tanh(W^w * c_{j-⌊w/2⌋ … j+⌈w/2⌉-1} + b^w)   (a width-w convolution, zero-padded)
    f = [max_{j: m_j=1} h^{w_1}_j ; … ; max_{j: m_j=1} h^{w_k}_j]

so a word never seen in training still gets a representation from its spelling
(suffixes, digits, capitalisation), which the word embedding cannot give. Padding
characters are zeroed before the convolution and excluded from the max, so a word's
vector is the same whatever the batch's longest word (or sentence) is.

References:
  Ma and Hovy, "End-to-end Sequence Labeling via Bi-directional LSTM-CNNs-CRF", ACL 2016.
  Lample et al., "Neural Architectures for Named Entity Recognition", NAACL 2016
  (a character BiLSTM in the same role).

Example::

    layer = CharCNN(vocab_size=50, dim=16, filters=32, widths=[3])
    vectors = layer(char_ids)      # [batch, words, chars] int → [batch, words, 32]
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mtlflow")
class CharCNN(keras.layers.Layer):
    """Char ids ``[batch, words, chars]`` (0 = padding, 1 = unseen) → ``[batch, words, filters·len(widths)]``.

    Args:
      vocab_size: number of character ids (the ``chars`` vocabulary, padding and unseen included).
      dim: character embedding size (default 32).
      filters: convolution filters per width (default 64).
      widths: convolution widths in characters (default ``[3]``).
      dropout: dropout on the character embeddings while training (default 0).
      activation: of the convolution (default ``tanh``).

    A word without characters (a padding word) gets the zero vector.
    """

    def __init__(self, vocab_size: int, dim: int = 32, filters: int = 64, widths: list[int] | tuple[int, ...] = (3,),
                 dropout: float = 0.0, activation: str = "tanh", **kwargs):
        super().__init__(**kwargs)
        widths = [int(w) for w in widths]
        if vocab_size < 2:
            raise ValueError(f"CharCNN needs a character vocabulary with padding and unseen ids (size ≥ 2). "
                             f"Received: vocab_size={vocab_size}")
        if not widths or any(w < 1 for w in widths):
            raise ValueError(f"Argument `widths` must be a non-empty list of positive integers. Received: widths={widths}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Argument `dropout` must be in [0, 1). Received: dropout={dropout}")
        self.settings = dict(vocab_size=int(vocab_size), dim=int(dim), filters=int(filters), widths=widths,
                             dropout=float(dropout), activation=activation)
        self.embedding = keras.layers.Embedding(vocab_size, dim, name="char_embedding")
        self.convolutions = [keras.layers.Conv1D(filters, w, padding="same", activation=activation, name=f"char_conv_{w}")
                             for w in widths]
        self.dropout = keras.layers.Dropout(dropout)

    @property
    def output_dim(self) -> int:
        return self.settings["filters"] * len(self.settings["widths"])

    def call(self, char_ids, training=None):
        char_ids = ops.cast(char_ids, "int32")
        shape = ops.shape(char_ids)
        flat = ops.reshape(char_ids, (-1, shape[2]))                    # [batch·words, chars]
        mask = ops.cast(ops.not_equal(flat, 0), self.compute_dtype)[..., None]
        x = self.dropout(self.embedding(flat), training=training) * mask  # padding chars are exactly 0
        very_negative = ops.cast(-1e9, x.dtype)
        pooled = []
        for conv in self.convolutions:
            h = ops.where(mask > 0, conv(x), very_negative)
            pooled.append(ops.max(h, axis=1))                          # [batch·words, filters]
        f = pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)
        has_chars = ops.any(ops.not_equal(flat, 0), axis=1)[:, None]
        f = ops.where(has_chars, f, ops.zeros_like(f))                  # a padding word → 0
        return ops.reshape(f, (shape[0], shape[1], self.output_dim))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), **self.settings}
