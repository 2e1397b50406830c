"""Vocabularies and statistics learned from the training split, saved with the run."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mtlflow.files import read_json, write_json_atomic

PAD, OOV = "", "[UNK]"


@dataclass
class Vocabularies:
    """What the preprocessing inside the model needs.

    Attributes:
      tokens: text vocabulary; id 0 is padding, id 1 out-of-vocabulary.
      categorical: per categorical column, its values; id 0 is missing, id 1 unseen.
      numeric_mean, numeric_std: per numeric column, for ``(x - mean) / std``.
      chars: characters of the training tokens (``encoder.char_cnn``); id 0 is padding,
        id 1 an unseen character. Empty in runs saved before it existed.
      bigrams: token pairs of the training split (``encoder.bigrams``, else empty) as
        :func:`bigram_key` writes them; id 0 is padding, id 1 an unseen pair.
      token_counts: how often each of ``tokens`` occurs in the training split (0 for
        padding and out-of-vocabulary); descending, as ``tokens`` are ranked by it. Empty
        in runs saved before it existed.
    """

    tokens: list[str] = field(default_factory=list)
    categorical: dict[str, list[str]] = field(default_factory=dict)
    numeric_mean: dict[str, float] = field(default_factory=dict)
    numeric_std: dict[str, float] = field(default_factory=dict)
    chars: list[str] = field(default_factory=list)
    bigrams: list[str] = field(default_factory=list)
    token_counts: list[int] = field(default_factory=list)

    def fitted(self, field_name: str, key_path: str) -> list[str]:
        """The ``field_name`` vocabulary (``chars``, ``bigrams``) that ``key_path`` needs; an
        error when the run's ``vocab.json`` was fitted without it."""
        keys = getattr(self, field_name)
        if len(keys) < 2:
            from mtlflow.errors import MtlflowError

            raise MtlflowError(f"{key_path} needs the vocab.json `{field_name}` vocabulary, which is empty: refit "
                               "the vocabularies on the training split (train a new run)")
        return keys

    def save(self, path: Path) -> None:
        """Writes ``path`` atomically (a killed run never leaves half a vocabulary)."""
        write_json_atomic(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> "Vocabularies":
        """Reads ``path``; a damaged file raises an error naming it."""
        return cls(**read_json(path, "train the run again (the vocabulary is part of the trained model)"))


def first_rare_id(token_counts: list[int], rare_count: int) -> int:
    """The first id whose training count is at most ``rare_count``: as the vocabulary is
    ranked by count, every id from there on is rare (``len`` when none is)."""
    return next((i for i, c in enumerate(token_counts) if i >= 2 and c <= rare_count), len(token_counts))


def token_vocabulary(counts: Counter, min_count: int = 1, max_size: int | None = None) -> list[str]:
    """``[PAD, OOV]`` then the tokens of ``counts`` (token → training count) by descending
    count (ties alphabetically)."""
    ranked = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    if max_size is not None:
        ranked = ranked[: max(0, max_size - 2)]
    return [PAD, OOV] + ranked


def char_vocabulary(token_lists) -> list[str]:
    """``[PAD, OOV]`` then the tokens' characters (Unicode code points, as
    ``tf.strings.unicode_split`` splits them) by descending count, ties by code point."""
    counts = Counter(c for tokens in token_lists for t in tokens for c in t)
    return [PAD, OOV] + sorted(counts, key=lambda c: (-counts[c], c))


def bigram_key(token: str, following: str) -> str:
    """A token and the one after it (``""`` at the end of the text), joined by a space, which
    no token holds (every tokenizer splits at whitespace): ``("订", "单") → "订 单"``."""
    return f"{token} {following}"


def bigram_vocabulary(token_lists, min_count: int = 2) -> list[str]:
    """``[PAD, OOV]`` then the :func:`bigram_key` pairs seen ``min_count`` times or more, by
    descending count (ties alphabetically); the last token of a text pairs with ``""``."""
    counts = Counter(bigram_key(t, u) for tokens in token_lists for t, u in zip(tokens, [*tokens[1:], ""]))
    ranked = sorted((b for b, c in counts.items() if c >= min_count), key=lambda b: (-counts[b], b))
    return [PAD, OOV] + ranked


def categorical_vocabulary(values) -> list[str]:
    """``[missing, unseen]`` then the sorted distinct values."""
    return [PAD, OOV] + sorted({v for v in values if v})


def numeric_statistics(column: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (1 when constant) of a numeric column."""
    mean = float(np.mean(column)) if len(column) else 0.0
    std = float(np.std(column)) if len(column) else 1.0
    return mean, std or 1.0


def fit_vocabularies(features: dict[str, np.ndarray], inputs, encoder=None) -> Vocabularies:
    """Vocabularies and statistics of the training split's raw inputs (token bigrams too
    when ``encoder.bigrams`` asks for them).

    Text is tokenised with the TF tokenizer, the one the model runs, so every token
    the vocabulary holds is a token the model will see.
    """
    vocab = Vocabularies()
    if inputs.text:
        import tensorflow as tf

        from mtlflow.data.tokenize import tf_tokenize

        texts = features[inputs.text.column]
        token_lists = []
        for start in range(0, len(texts), 8192):
            batch = tf.constant(texts[start : start + 8192].tolist())
            tokens = tf_tokenize(batch, inputs.text.tokenizer, inputs.text.lowercase)
            token_lists.extend([t.decode("utf-8") for t in row] for row in tokens.to_list())
        counts = Counter(t for tokens in token_lists for t in tokens)
        vocab.tokens = token_vocabulary(counts, inputs.text.min_count, inputs.text.max_vocab)
        vocab.token_counts = [0, 0] + [counts[t] for t in vocab.tokens[2:]]
        vocab.chars = char_vocabulary(token_lists)
        if encoder is not None and getattr(encoder, "bigrams", None) is not None:
            vocab.bigrams = bigram_vocabulary(token_lists, encoder.bigrams.min_count)
    for column in inputs.categorical:
        vocab.categorical[column] = categorical_vocabulary(features[column])
    for column in inputs.numeric:
        vocab.numeric_mean[column], vocab.numeric_std[column] = numeric_statistics(features[column])
    return vocab
