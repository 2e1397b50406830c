"""What every config section shares: strict models, common field types, key-path errors."""

from __future__ import annotations

from typing import Annotated, Any, Callable

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0, strict=True)]
Rate = Annotated[float, Field(ge=0.0, lt=1.0)]


class StrictModel(BaseModel):
    """A config section: unknown keys are rejected, values are validated on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class KeyPathError(ValueError):
    """A cross-field check that knows the exact key path it is about (``training.groups.x``).

    Raised inside a validator, it becomes the whole one-line message of the
    :class:`~mtlflow.errors.ConfigError` (see :mod:`mtlflow.config.messages`).
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path


def tag_of(field: str, default: str | None = None) -> Callable[[Any], Any]:
    """A pydantic discriminator reading ``field`` from a mapping or a model, ``default`` if absent.

    Sections whose kind has a default (``sharing.type: hard``, ``training.balance.method:
    fixed``) are discriminated unions whose tag may be omitted in the YAML.
    """

    def get(value: Any) -> Any:
        if isinstance(value, dict):
            return value.get(field, default)
        return getattr(value, field, default)

    get.__name__ = field  # pydantic's error context then names the key: "method()"
    return get
