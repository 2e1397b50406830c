"""``inputs:``: the model's raw inputs (text, a dense vector, numeric and categorical columns)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mtlflow.config.base import PositiveInt, StrictModel


class TextInput(StrictModel):
    """A text column, tokenised inside the model (core TF string ops only).

    ``whitespace`` splits on whitespace (space-separated languages); ``char`` makes
    every non-space character a token (Chinese); ``mixed`` splits on whitespace but makes
    every CJK character its own token (corpora mixing English and Chinese). Tokens past
    ``max_length`` are cut.
    """

    column: str = "text"
    tokenizer: Literal["whitespace", "char", "mixed"] = "whitespace"
    lowercase: bool = False
    max_length: PositiveInt = 128
    min_count: PositiveInt = 1
    max_vocab: PositiveInt | None = None


class DenseInput(StrictModel):
    """A precomputed vector per example (e.g. a 768-d sentence embedding)."""

    column: str
    dim: PositiveInt


class InputsConfig(StrictModel):
    """The model's raw inputs; at least one kind must be given."""

    text: TextInput | None = None
    dense: DenseInput | None = None
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _at_least_one(self):
        if not (self.text or self.dense or self.numeric or self.categorical):
            raise ValueError("no input given; set at least one of text, dense, numeric, categorical")
        return self
