"""The pydantic base of every config section; it lives in :mod:`mtlflow.config.base`."""

from mtlflow.config.base import StrictModel

__all__ = ["StrictModel"]
