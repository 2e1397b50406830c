"""Encoders: raw-input ids and vectors → token states and a pooled vector."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from mtlflow.model.char_cnn import CharCNN


def masked_pool(states, mask, how: str = "mean", scores=None):
    """Pools ``[batch, time, dim]`` over real tokens.

    ``mean``: ``Σ_t m_t h_t / Σ_t m_t``; ``max``: a masked max; ``attention``: ``Σ_t α_t h_t``
    with ``α = softmax`` of ``scores`` ``[batch, time]`` over the real tokens (a text with
    none pools to zeros, as under ``max``).
    """
    m = ops.cast(mask, states.dtype)[..., None]
    if how == "mean":
        return ops.sum(states * m, axis=1) / ops.maximum(ops.sum(m, axis=1), 1.0)
    if how == "attention":
        very_negative = ops.cast(-1e9, states.dtype)
        scores = ops.where(m[..., 0] > 0, scores, very_negative)
        weights = ops.exp(scores - ops.max(scores, axis=1, keepdims=True)) * m[..., 0]
        weights = weights / ops.maximum(ops.sum(weights, axis=1, keepdims=True), 1e-9)
        return ops.sum(states * weights[..., None], axis=1)
    very_negative = ops.cast(-1e9, states.dtype)
    pooled = ops.max(ops.where(m > 0, states, very_negative), axis=1)
    return ops.where(pooled <= very_negative, ops.zeros_like(pooled), pooled)


@keras.saving.register_keras_serializable(package="mtlflow")
class TransformerBlock(keras.layers.Layer):
    """Post-norm Transformer encoder block (Vaswani et al., NeurIPS 2017) with a padding mask."""

    def __init__(self, dim: int, heads: int, ff_units: int, dropout: float = 0.1, **kwargs):
        super().__init__(**kwargs)
        if dim % heads:
            raise ValueError(f"Transformer width {dim} must be divisible by heads={heads}")
        self.dim, self.heads, self.ff_units, self.dropout_rate = dim, heads, ff_units, dropout
        self.attention = keras.layers.MultiHeadAttention(heads, dim // heads, dropout=dropout)
        self.norm1 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.norm2 = keras.layers.LayerNormalization(epsilon=1e-6)
        self.ff1 = keras.layers.Dense(ff_units, activation="gelu")
        self.ff2 = keras.layers.Dense(dim)
        self.dropout = keras.layers.Dropout(dropout)

    def call(self, x, mask, training=None):
        pair_mask = ops.logical_and(mask[:, None, :], mask[:, :, None])
        attended = self.attention(x, x, attention_mask=pair_mask, training=training)
        x = self.norm1(x + self.dropout(attended, training=training))
        return self.norm2(x + self.dropout(self.ff2(self.ff1(x)), training=training))

    def get_config(self):
        return {**super().get_config(), "dim": self.dim, "heads": self.heads,
                "ff_units": self.ff_units, "dropout": self.dropout_rate}


@keras.saving.register_keras_serializable(package="mtlflow")
class TextEncoder(keras.layers.Layer):
    """Token ids ``[batch, time]`` (0 = padding) → ``(states [batch, time, d], pooled [batch, d])``.

    ``kind``: ``bilstm`` / ``bigru`` (bidirectional RNN, ``d = 2·units``) or
    ``transformer`` (learned positions, ``d = embedding_dim``).

    ``token_dropout`` replaces each real token by the out-of-vocabulary id (1) with that
    probability during training, so the model learns to label an unseen token from its
    context. ``rare_token_dropout`` is the probability instead for the rare ids, those from
    ``rare_from`` on (the vocabulary is ranked by training count): the singleton-to-UNK
    trick of Lample et al., NAACL 2016.

    ``char_cnn``: arguments of a :class:`~mtlflow.model.char_cnn.CharCNN` (``vocab_size``,
    ``dim``, ``filters``, ``widths``; None = off). Its per-word vectors, from ``char_ids``
    ``[batch, time, chars]``, are concatenated with the word embeddings before the
    BiLSTM/BiGRU (Ma and Hovy, ACL 2016); for the Transformer the concatenation is
    projected back to ``embedding_dim``. Token dropout leaves a word's characters in place,
    so the model learns to read an unknown word from its spelling.

    ``bigrams``: ``{"vocab_size", "dim", "dropout"}`` (None = off): each token's pair with
    the next, ``bigram_ids`` ``[batch, time]``, is embedded and concatenated with the token's
    embedding ("bichar" features, Zhang and Yang, ACL 2018); token dropout drops the pair
    of a dropped token too, and ``dropout`` (default 0) drops known pairs on their own,
    keeping the token. For the Transformer the concatenation is projected back.
    """

    def __init__(self, vocab_size: int, kind: str = "bilstm", embedding_dim: int = 64, units: int = 64,
                 layers: int = 1, heads: int = 4, ff_units: int = 128, dropout: float = 0.1,
                 pooling: str = "mean", max_length: int = 128, token_dropout: float = 0.0,
                 seed: int | None = None, char_cnn: dict | None = None, bigrams: dict | None = None,
                 rare_token_dropout: float = 0.0, rare_from: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if rare_token_dropout and rare_from is None:
            raise ValueError("Argument `rare_from` (the first rare token id) is needed with rare_token_dropout="
                             f"{rare_token_dropout}. Received: rare_from=None")
        self.settings = dict(vocab_size=vocab_size, kind=kind, embedding_dim=embedding_dim, units=units,
                             layers=layers, heads=heads, ff_units=ff_units, dropout=dropout,
                             pooling=pooling, max_length=max_length, token_dropout=token_dropout, seed=seed,
                             char_cnn=dict(char_cnn) if char_cnn else None,
                             bigrams=dict(bigrams) if bigrams else None,
                             rare_token_dropout=rare_token_dropout, rare_from=rare_from)
        self.token_seed = keras.random.SeedGenerator(seed) if token_dropout or rare_token_dropout else None
        pair_dropout = (bigrams or {}).get("dropout", 0.0)
        self.pair_seed = keras.random.SeedGenerator(None if seed is None else seed + 1) if pair_dropout else None
        self.embedding = keras.layers.Embedding(vocab_size, embedding_dim, name="embedding")
        self.dropout = keras.layers.Dropout(dropout)
        self.char_cnn = CharCNN(**char_cnn, name="char_cnn") if char_cnn else None
        self.bigram_embedding = (keras.layers.Embedding(bigrams["vocab_size"], bigrams["dim"], name="bigram_embedding")
                                 if bigrams else None)
        # Attention pooling (Lin et al., ICLR 2017, one head): α = softmax_t(vᵀ tanh(W h_t)).
        self.attention_scores = (keras.Sequential([keras.layers.Dense(units, activation="tanh", name="attention_hidden"),
                                                   keras.layers.Dense(1, use_bias=False, name="attention_query")],
                                                  name="attention_pool")
                                 if pooling == "attention" else None)
        self.char_projection = None
        if (self.char_cnn is not None or self.bigram_embedding is not None) and kind == "transformer":
            self.char_projection = keras.layers.Dense(embedding_dim, name="char_projection")
        if kind in ("bilstm", "bigru"):
            cell = keras.layers.LSTM if kind == "bilstm" else keras.layers.GRU
            self.blocks = [keras.layers.Bidirectional(cell(units, return_sequences=True), name=f"{kind}_{i}")
                           for i in range(layers)]
        elif kind == "transformer":
            self.positions = keras.layers.Embedding(max_length, embedding_dim, name="positions")
            self.blocks = [TransformerBlock(embedding_dim, heads, ff_units, dropout, name=f"transformer_{i}")
                           for i in range(layers)]
        else:
            raise ValueError(f"unknown text encoder {kind!r}; allowed: bilstm, bigru, transformer")

    def call(self, token_ids, char_ids=None, bigram_ids=None, training=None):
        # A batch of empty texts has no time step; Keras' LSTM/GRU loop cannot stack the
        # outputs of zero steps. One padding column (id 0, masked) gives it one; the states
        # are cut back to the batch's width below, and the pooling ignores padding.
        width = ops.shape(token_ids)[1]
        if self.bigram_embedding is not None and bigram_ids is None:
            raise ValueError("this TextEncoder has bigrams: call it with bigram_ids [batch, time]")
        token_ids, char_ids, bigram_ids = _at_least_one_step(token_ids, char_ids, bigram_ids)
        mask = ops.not_equal(token_ids, 0)
        if training and self.token_seed is not None:
            drop = keras.random.uniform(ops.shape(token_ids), seed=self.token_seed) < self.drop_rates(token_ids)
            token_ids = _unknown_where(drop, token_ids)
            if bigram_ids is not None:
                bigram_ids = _unknown_where(drop, bigram_ids)
        if training and self.pair_seed is not None:
            drop = keras.random.uniform(ops.shape(bigram_ids), seed=self.pair_seed) < self.settings["bigrams"]["dropout"]
            bigram_ids = _unknown_where(drop, bigram_ids)
        x = self.embedding(token_ids)
        if self.char_cnn is not None:
            if char_ids is None:
                raise ValueError("this TextEncoder has a char_cnn: call it with char_ids [batch, time, chars]")
            x = ops.concatenate([x, self.char_cnn(char_ids, training=training)], axis=-1)
        if self.bigram_embedding is not None:
            x = ops.concatenate([x, self.bigram_embedding(bigram_ids)], axis=-1)
        if self.char_projection is not None:
            x = self.char_projection(x)
        if self.settings["kind"] == "transformer":
            x = x + self.positions(ops.arange(ops.shape(token_ids)[1]))[None]
        x = self.dropout(x, training=training)
        for block in self.blocks:
            x = block(x, mask=mask, training=training)
        if self.settings["kind"] != "transformer":
            x = self.dropout(x, training=training)
        scores = self.attention_scores(x)[..., 0] if self.attention_scores is not None else None
        return x[:, :width], masked_pool(x, mask, self.settings["pooling"], scores)

    def drop_rates(self, token_ids):
        """Each token's probability of being replaced by the unknown id in training."""
        rate, rare = self.settings["token_dropout"], self.settings["rare_token_dropout"]
        if not rare:
            return rate
        return ops.where(token_ids >= self.settings["rare_from"], rare, rate)

    def get_config(self):
        return {**super().get_config(), **self.settings}


def _unknown_where(drop, ids):
    """``ids`` with the known ids (> 1) where ``drop`` holds replaced by the unknown id (1);
    padding (0) and unknown stay as they are."""
    return ops.where(ops.logical_and(drop, ids > 1), ops.ones_like(ids), ids)


def _at_least_one_step(token_ids, char_ids=None, bigram_ids=None):
    """``token_ids`` ``[batch, time]`` (and ``bigram_ids`` ``[batch, time]``, ``char_ids``
    ``[batch, time, chars]``) padded with zeros to ``time ≥ 1`` (and ``chars ≥ 1``);
    unchanged when already that wide."""
    extra = ops.maximum(1 - ops.shape(token_ids)[1], 0)
    token_ids = ops.pad(token_ids, [[0, 0], [0, extra]])
    if bigram_ids is not None:
        bigram_ids = ops.pad(bigram_ids, [[0, 0], [0, extra]])
    if char_ids is not None:
        extra_chars = ops.maximum(1 - ops.shape(char_ids)[2], 0)
        extra_words = ops.shape(token_ids)[1] - ops.shape(char_ids)[1]
        char_ids = ops.pad(char_ids, [[0, 0], [0, extra_words], [0, extra_chars]])
    return token_ids, char_ids, bigram_ids


@keras.saving.register_keras_serializable(package="mtlflow")
class FeatureEncoder(keras.layers.Layer):
    """Dense vector, standardised numbers and categorical ids → one vector through an MLP.

    Every categorical column has its own ``categorical_dim`` embedding, stored as row blocks
    of one table and looked up with a single gather (ids shifted by each column's offset),
    which for tens of columns is several times faster than one lookup per column.
    """

    def __init__(self, categorical_sizes: list[int] | None = None, categorical_dim: int = 16,
                 mlp: list[int] | None = None, dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(categorical_sizes=list(categorical_sizes or []), categorical_dim=categorical_dim,
                             mlp=list(mlp or []), dropout=dropout)
        sizes = self.settings["categorical_sizes"]
        self.offsets = [int(x) for x in np.cumsum([0, *sizes[:-1]])] if sizes else []
        self.embedding = keras.layers.Embedding(sum(sizes), categorical_dim, name="categorical") if sizes else None
        self.dense_layers = [keras.layers.Dense(u, activation="relu", name=f"mlp_{i}")
                             for i, u in enumerate(self.settings["mlp"])]
        self.dropout = keras.layers.Dropout(dropout)

    def call(self, inputs: dict, training=None):
        parts = [inputs[k] for k in ("dense", "numeric") if k in inputs]
        if "categorical" in inputs and self.embedding is not None:
            ids = ops.cast(inputs["categorical"], "int32") + ops.convert_to_tensor(self.offsets, "int32")
            vectors = self.embedding(ids)  # [batch, columns, dim]
            parts.append(ops.reshape(vectors, (-1, len(self.offsets) * self.settings["categorical_dim"])))
        x = parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)
        for layer in self.dense_layers:
            x = self.dropout(layer(x), training=training)
        return x

    def get_config(self):
        return {**super().get_config(), **self.settings}
