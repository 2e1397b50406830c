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
    ``on_missing_label``: a JSON Lines row without a task's label key is an error naming
    ``file:line`` (so a row that lost its label is not trained without it unnoticed), unless
    ``mask``: then a missing key means unlabelled, like ``null``.

    ``unseen_labels``: how evaluation scores a validation/test gold label that training
    lacks (masked under ``on_bad_label: mask``): ``count_as_errors`` (as published
    evaluations do: a wrong intent, missed slot spans, a wrong sentence) or ``exclude``
    (those rows leave that task's and the joint metrics). See :mod:`mtlflow.data.unseen`.
    """

    format: Literal["csv", "tsv", "jsonl", "jointbert", "conll"] | None = None
    train: str
    validation: str | None = None
    test: str | None = None
    validation_split: float = Field(0.1, ge=0.0, lt=1.0)
    on_bad_row: Literal["error", "skip"] = "error"
    on_bad_label: Literal["error", "mask"] = "error"
    on_missing_label: Literal["error", "mask"] = "error"
    unseen_labels: Literal["count_as_errors", "exclude"] = "count_as_errors"
    bucket_boundaries: list[PositiveInt] | None = None
    quotes: bool = True
    max_rows: PositiveInt | None = None
