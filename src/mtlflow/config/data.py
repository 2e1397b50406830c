"""``data:``: where the examples are and what to do with bad ones."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mtlflow.config.base import PositiveInt, StrictModel


class DataConfig(StrictModel):
    """Where the examples are and what to do with bad ones.

    Paths are relative to the config file. Without ``validation``, a seeded
    ``validation_split`` of the training file is held out. ``quotes: false`` reads CSV/TSV
    without quote processing (plain TSV whose texts may begin with ``"``). ``max_rows``
    keeps only the first that many rows of every split (quick smoke runs).
    """

    format: Literal["csv", "tsv", "jsonl", "jointbert", "conll"] | None = None
    train: str
    validation: str | None = None
    test: str | None = None
    validation_split: float = Field(0.1, ge=0.0, lt=1.0)
    on_bad_row: Literal["error", "skip"] = "error"
    on_bad_label: Literal["error", "mask"] = "error"
    bucket_boundaries: list[PositiveInt] | None = None
    quotes: bool = True
    max_rows: PositiveInt | None = None
