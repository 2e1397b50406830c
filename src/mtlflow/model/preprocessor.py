"""Raw inputs → model inputs, in the TF graph (tokenize, look up, normalise).

The same module prepares the training data and runs inside the exported SavedModel, so
training and serving share one transformation. It uses core TF ops only
(``tf.strings``, ``tf.lookup``), which stock TF Serving has.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from mtlflow.config import EncoderConfig, InputsConfig
from mtlflow.data.tokenize import JOINERS, tf_tokenize
from mtlflow.data.vocabulary import Vocabularies
from mtlflow.tasks import TokenView


NUMERIC_LIMIT = 1000.0  # standardised numbers are clipped to ±this many training standard deviations


def standardize(values, mean, std):
    """``(x - mean) / std`` per column, defined for every float a client can send.

    A missing number (NaN: what a JSON ``null`` or an empty cell becomes) takes the column's
    training mean, so it standardises to 0; the result is clipped to ``±NUMERIC_LIMIT``
    standard deviations, so ``±inf`` and absurd magnitudes (``1e38``) give the answer of
    the most extreme value the model can tell apart instead of ``inf``/``NaN`` outputs.
    Training data is finite (the readers reject NaN) and, Chebyshev's inequality says,
    at most one value in a million lies beyond 1000 standard deviations.
    """
    values = tf.where(tf.math.is_nan(values), mean, values)
    return tf.clip_by_value((values - mean) / std, -NUMERIC_LIMIT, NUMERIC_LIMIT)


def _table(keys: list[str], oov_id: int) -> tf.lookup.StaticHashTable:
    """``key → index in keys`` (index 0, the padding/missing key, maps to 0)."""
    initializer = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.range(len(keys), dtype=tf.int64)
    )
    return tf.lookup.StaticHashTable(initializer, default_value=oov_id)


class Preprocessor(tf.Module):
    """Maps a dict of raw columns (``[batch]`` each; dense ``[batch, dim]``) to model inputs.

    Model inputs: ``token_ids`` ``[batch, time]`` int32 (0 = padding; with a pretrained
    ``encoder``, WordPiece ids plus ``word_starts`` ``[batch, words]``, each word's first piece;
    with ``encoder.char_cnn``, ``char_ids`` ``[batch, words, chars]`` int32, each word's first
    ``max_chars`` characters looked up in the ``chars`` vocabulary, 0 = padding, 1 = unseen;
    with ``encoder.bigrams``, ``bigram_ids`` ``[batch, words]``, each word paired with the next),
    ``dense`` ``[batch, dim]``, ``numeric`` ``[batch, n]`` standardised (:func:`standardize`:
    a missing number, NaN, is the training mean), and ``categorical`` ``[batch, k]`` int32 ids
    (0 for a missing value, ``""``; 1 for a value not seen in training).

    Every string is a valid text: an empty or whitespace-only one has no tokens (the encoders
    and decoders take zero-length sequences), and a long one is cut at ``max_length`` tokens.
    """

    def __init__(self, inputs: InputsConfig, vocab: Vocabularies, encoder: EncoderConfig | None = None):
        super().__init__(name="preprocessor")
        self.inputs = inputs
        self.vocab = vocab
        self.wordpiece = None
        if inputs.text and encoder is not None and encoder.type == "pretrained":
            from mtlflow.model.pretrained import read_checkpoint
            from mtlflow.model.wordpiece import WordPieceTokenizer

            info = read_checkpoint(encoder.path, need_weights=False)
            self.wordpiece = WordPieceTokenizer(str(info.vocab_path), lowercase=info.lowercase)
            self.max_pieces = info.max_length
        elif inputs.text:
            self.token_table = _table(vocab.tokens, oov_id=1)
        self.char_cnn = encoder.char_cnn if inputs.text and encoder is not None and encoder.type != "pretrained" else None
        if self.char_cnn is not None:
            self.char_table = _table(vocab.fitted("chars", "encoder.char_cnn"), oov_id=1)
        self.bigrams = encoder.bigrams if inputs.text and encoder is not None and encoder.type != "pretrained" else None
        if self.bigrams is not None:
            self.bigram_table = _table(vocab.fitted("bigrams", "encoder.bigrams"), oov_id=1)
        self.categorical_tables = {
            c: _table(vocab.categorical[c], oov_id=1) for c in inputs.categorical
        }
        if inputs.numeric:
            self.numeric_mean = tf.constant([vocab.numeric_mean[c] for c in inputs.numeric], tf.float32)
            self.numeric_std = tf.constant([vocab.numeric_std[c] for c in inputs.numeric], tf.float32)

    @property
    def raw_signature(self) -> dict[str, tf.TensorSpec]:
        """The exported model's inputs: one tensor per raw column."""
        spec: dict[str, tf.TensorSpec] = {}
        if self.inputs.text:
            spec[self.inputs.text.column] = tf.TensorSpec([None], tf.string, self.inputs.text.column)
        if self.inputs.dense:
            d = self.inputs.dense
            spec[d.column] = tf.TensorSpec([None, d.dim], tf.float32, d.column)
        for c in self.inputs.numeric:
            spec[c] = tf.TensorSpec([None], tf.float32, c)
        for c in self.inputs.categorical:
            spec[c] = tf.TensorSpec([None], tf.string, c)
        return spec

    def tokens(self, texts) -> tf.RaggedTensor:
        """``[batch]`` strings → ``[batch, None]`` tokens, cut at ``max_length``."""
        text = self.inputs.text
        return tf_tokenize(texts, text.tokenizer, text.lowercase)[:, : text.max_length]

    def token_view(self, texts) -> TokenView:
        tokens = self.tokens(texts)
        return TokenView(
            tokens=tokens.to_tensor(""),
            mask=tf.sequence_mask(tokens.row_lengths()),
            joiner=JOINERS[self.inputs.text.tokenizer],
        )

    def char_ids(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[batch, (words)]`` tokens → ``[batch, (words), (chars)]`` int32 char ids, each
        word cut at ``encoder.char_cnn.max_chars`` characters (UTF-8 code points)."""
        chars = tf.strings.unicode_split(tokens, "UTF-8")  # [batch, (words), (chars)]
        words = chars.values[:, : self.char_cnn.max_chars]  # [all words, (chars)]
        ids = tf.ragged.map_flat_values(self.char_table.lookup, words)
        return chars.with_values(tf.cast(ids, tf.int32))

    def bigram_ids(self, tokens: tf.RaggedTensor) -> tf.RaggedTensor:
        """``[batch, (words)]`` tokens → ``[batch, (words)]`` int32 ids of each token paired
        with the next (:func:`~mtlflow.data.vocabulary.bigram_key`; ``""`` after the last)."""
        flat = tokens.flat_values
        after = tf.range(1, tf.size(flat, out_type=tf.int64) + 1)  # each token's successor in flat
        row_end = tf.repeat(tokens.row_limits(), tokens.row_lengths())
        following = tf.where(after < row_end, tf.gather(flat, tf.minimum(after, tf.maximum(row_end - 1, 0))), "")
        keys = tf.strings.join([flat, following], separator=" ")
        return tokens.with_flat_values(tf.cast(self.bigram_table.lookup(keys), tf.int32))

    def __call__(self, raw: dict, ragged: bool = False) -> dict:
        """Model inputs for a batch of raw columns (``ragged=True`` keeps token ids ragged)."""
        out = {}
        if self.inputs.text and self.wordpiece is not None:
            ids, starts = self.wordpiece.encode_words(self.tokens(raw[self.inputs.text.column]), self.max_pieces)
            out["token_ids"] = ids if ragged else ids.to_tensor(0)
            out["word_starts"] = starts if ragged else starts.to_tensor(0)
        elif self.inputs.text:
            tokens = self.tokens(raw[self.inputs.text.column])
            ids = tf.ragged.map_flat_values(self.token_table.lookup, tokens)
            ids = tf.cast(ids, tf.int32)
            out["token_ids"] = ids if ragged else ids.to_tensor(0)
            if self.char_cnn is not None:
                chars = self.char_ids(tokens)
                out["char_ids"] = chars if ragged else chars.to_tensor(0)
            if self.bigrams is not None:
                pairs = self.bigram_ids(tokens)
                out["bigram_ids"] = pairs if ragged else pairs.to_tensor(0)
        if self.inputs.dense:
            out["dense"] = tf.cast(raw[self.inputs.dense.column], tf.float32)
        if self.inputs.numeric:
            values = tf.stack([tf.cast(raw[c], tf.float32) for c in self.inputs.numeric], axis=1)
            out["numeric"] = standardize(values, self.numeric_mean, self.numeric_std)
        if self.inputs.categorical:
            ids = [self.categorical_tables[c].lookup(raw[c]) for c in self.inputs.categorical]
            out["categorical"] = tf.cast(tf.stack(ids, axis=1), tf.int32)
        return out

    def transform(self, features: dict[str, np.ndarray], chunk: int = 8192) -> dict:
        """Model inputs for a whole split (token ids stay ragged), computed in chunks."""
        n = len(next(iter(features.values())))
        parts = []
        for start in range(0, n, chunk):
            raw = {k: tf.constant(v[start : start + chunk].tolist() if v.dtype == object else v[start : start + chunk]) for k, v in features.items()}
            parts.append(self(raw, ragged=True))
        return {k: tf.concat([p[k] for p in parts], axis=0) for k in parts[0]}
