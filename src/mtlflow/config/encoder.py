"""``encoder:``: how inputs become a shared representation (and ``encoder.char_cnn``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtlflow.config.base import PositiveInt, Rate, StrictModel
from mtlflow.config.interaction import JointInteractionConfig


class CharCNNConfig(StrictModel):
    """``encoder.char_cnn``: character-CNN word features (Ma and Hovy, ACL 2016).

    Each word's first ``max_chars`` characters are embedded (``dim``), convolved with
    ``filters`` filters of each width in ``widths`` and max-pooled over the word; the
    ``filters · len(widths)`` features are concatenated with the word embedding. The
    character vocabulary is the training split's (``vocab.json``'s ``chars``).
    """

    dim: PositiveInt = 32
    filters: PositiveInt = 64
    widths: list[PositiveInt] = Field(default_factory=lambda: [3], min_length=1)
    max_chars: PositiveInt = 24
    dropout: Rate = 0.0


class BigramConfig(StrictModel):
    """``encoder.bigrams``: token-bigram embeddings (Zhang and Yang, ACL 2018, "bichar").

    Token ``t`` also gets the embedding (``dim``) of the pair ``(t, t+1)`` (the last token's
    partner is the end of the text), concatenated with its own embedding. For text written
    without spaces and tokenised by character (Chinese, ``inputs.text.tokenizer: char``) a
    bigram is often a word (订单, 取消), which a character alone is not. The vocabulary is the
    training split's pairs seen at least ``min_count`` times (``vocab.json``'s ``bigrams``);
    other pairs share the unknown id, and token dropout drops a token's pair with it.

    ``dropout`` (0 = off) also replaces each known pair by the unknown pair with that
    probability while training, on its own, leaving the token in place: the model then
    learns to label a character whose pair is new (a slot value or phrasing unseen in
    training) from the characters, instead of leaning on pairs it has seen.
    """

    dim: PositiveInt = 64
    min_count: PositiveInt = 2
    dropout: Rate = 0.0


class EncoderConfig(StrictModel):
    """How inputs become a shared representation.

    Text: embedding → ``type`` (BiLSTM, BiGRU or Transformer) → token states plus a
    pooled vector: ``pooling`` ``mean``, ``max`` or ``attention`` (a learned softmax
    weighting of the token states, Lin et al., ICLR 2017). Dense, numeric and categorical
    inputs go through the ``mlp``.
    ``token_dropout`` replaces tokens by the unknown-token id with that probability
    while training, so unseen words are labelled from their context.
    ``rare_token_dropout`` does so for the rare tokens instead, those seen at most
    ``rare_count`` times in training (Lample et al., NAACL 2016: singletons, 0.5): the
    unknown-token embedding then learns from the words most like the ones a test set has
    never seen, not mostly from the frequent ones.

    ``type: pretrained`` with ``path: DIR`` fine-tunes a BERT checkpoint in Hugging Face
    layout (config.json, model.safetensors, vocab.txt; relative to the config file) through
    keras-hub; WordPiece runs inside the model and tagging tasks read each word's first
    piece. ``pooling`` is then ``mean`` or ``cls``; ``dropout`` null keeps the checkpoint's.

    ``char_cnn`` (null = off) adds character-CNN features to every word's embedding
    (:class:`CharCNNConfig`), for words unseen in training.

    ``bigrams`` (null = off) adds token-bigram embeddings (:class:`BigramConfig`), for
    character-tokenised text.

    ``interaction`` (null = off) joins an intent task and a slot task with a joint-NLU
    interaction module (:class:`~mtlflow.config.interaction.JointInteractionConfig`).
    """

    type: Literal["bilstm", "bigru", "transformer", "pretrained"] = "bilstm"
    path: str | None = None
    embedding_dim: PositiveInt = 64
    units: PositiveInt = 64
    layers: PositiveInt = 1
    heads: PositiveInt = 4
    ff_units: PositiveInt = 128
    dropout: Rate = 0.1
    token_dropout: Rate = 0.0
    rare_token_dropout: Rate = 0.0
    rare_count: PositiveInt = 1
    pooling: Literal["mean", "max", "attention", "cls"] = "mean"
    categorical_dim: PositiveInt = 16
    mlp: list[PositiveInt] = Field(default_factory=lambda: [128])
    char_cnn: CharCNNConfig | None = None
    bigrams: BigramConfig | None = None
    interaction: JointInteractionConfig | None = None
