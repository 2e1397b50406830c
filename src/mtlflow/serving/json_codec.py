"""TF Serving's JSON tensors: request bodies to NumPy inputs, outputs back to JSON.

Request (``POST …:predict``)::

    {"signature_name": "…",              # optional, default serving_default
     "instances": [<row>, …]}            # row format → {"predictions": [<row>, …]}
    {"inputs": <tensor> | {name: <tensor>}}   # columnar format → {"outputs": …}

A row is the value of the only input, or ``{input: value}``; a tensor is a nested list.
Strings are JSON strings, or ``{"b64": "…"}`` for bytes. The size limits (rows, values
per input, bytes per string) are checked on the lists' lengths before any value is
converted. Outputs come back as strings
(UTF-8; ``{"b64": …}`` for bytes that are not valid UTF-8) and numbers. With one output,
each prediction (and ``outputs``) is its value; with several, an object keyed by name.

A response is written by ``orjson`` when every float in it is finite (the same text as the
standard library's ``json`` but for the exponent's ``+``: ``1e16`` for ``1e+16``; on a 32-text
response of the demo model 0.07 ms instead of 0.91); with a NaN or an infinity, by ``json``,
which writes them as ``NaN`` and ``Infinity`` as TF Serving does (``orjson`` would write null).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import numpy as np
import orjson
import tensorflow as tf

from mtlflow.serving.errors import invalid
from mtlflow.serving.limits import check_shape, check_string
from mtlflow.serving.options import Limits
from mtlflow.serving.servable import Signature, describe

MAX_DEPTH = 32


def parse_json(body: bytes) -> dict:
    """The request body as a JSON object, or INVALID_ARGUMENT."""
    try:
        payload = json.loads(body)
    except RecursionError:
        raise invalid("malformed JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"malformed JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise invalid(f"the request body must be a JSON object, got {type(payload).__name__}")
    return payload


def _is_b64(value) -> bool:
    return isinstance(value, dict) and len(value) == 1 and "b64" in value


def _shape(value) -> list[int]:
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value or len(shape) > MAX_DEPTH:
            break
        value = value[0]
    return shape


def _leaves(value, shape: list[int], depth: int, out: list, where: str) -> None:
    if depth == len(shape):
        if isinstance(value, list):
            raise invalid(f"{where}: nested lists of uneven depth (expected a tensor of shape {shape})")
        out.append(value)
        return
    if not isinstance(value, list) or len(value) != shape[depth]:
        raise invalid(f"{where}: ragged nested lists (expected a tensor of shape {shape}); every row needs the same length")
    for item in value:
        _leaves(item, shape, depth + 1, out, where)


def _name(where: str) -> str:
    """``"input 'text'"`` → ``"text"`` (the limit messages quote the name themselves)."""
    return where.removeprefix("input ").strip("'")


def _convert(leaf, dtype: tf.DType, where: str, limits: Limits | None = None):
    if leaf is None:  # JSON null is a missing value: "" (missing/OOV category, empty text) or NaN (the mean)
        if dtype == tf.string:
            return b""
        if dtype.is_floating:
            return math.nan
        raise invalid(f"{where}: null is not a value of {dtype.name}; send a number")
    if dtype == tf.string:
        if isinstance(leaf, str):
            if limits is not None and len(leaf) > limits.string_bytes:  # characters <= UTF-8 bytes
                check_string(_name(where), len(leaf), limits)
            try:
                encoded = leaf.encode("utf-8")
            except UnicodeEncodeError:
                raise invalid(f"{where}: a string that is not valid Unicode (a lone surrogate); send bytes as {{\"b64\": …}}") from None
            if limits is not None:
                check_string(_name(where), len(encoded), limits)
            return encoded
        if _is_b64(leaf) and isinstance(leaf["b64"], str):
            if limits is not None:
                check_string(_name(where), len(leaf["b64"]) // 4 * 3, limits)
            try:
                return base64.b64decode(leaf["b64"], validate=True)
            except (binascii.Error, ValueError):
                raise invalid(f"{where}: invalid base64 in {{\"b64\": …}}") from None
        raise invalid(f"{where}: expected a string, got {json.dumps(leaf)[:60]}")
    if dtype == tf.bool:
        if isinstance(leaf, bool):
            return leaf
        raise invalid(f"{where}: expected true/false, got {json.dumps(leaf)[:60]}")
    if isinstance(leaf, bool) or not isinstance(leaf, (int, float)):
        raise invalid(f"{where}: expected a number ({dtype.name}), got {json.dumps(leaf)[:60]}")
    if dtype.is_integer:
        if isinstance(leaf, float) and not leaf.is_integer():
            raise invalid(f"{where}: expected an integer ({dtype.name}), got {leaf}")
        if not dtype.min <= leaf <= dtype.max:
            raise invalid(f"{where}: {leaf} is out of range for {dtype.name}")
        return int(leaf)
    return float(leaf)


def to_array(value: Any, spec: tf.TensorSpec, where: str, limits: Limits | None = None) -> np.ndarray:
    """A JSON tensor (nested lists) as a NumPy array of the input's dtype.

    With ``limits``, the shape the lists declare is checked before anything is converted.
    """
    shape = _shape(value)
    if len(shape) > MAX_DEPTH:
        raise invalid(f"{where}: nested more than {MAX_DEPTH} levels deep")
    if limits is not None:
        check_shape(_name(where), shape, limits)
    leaves: list = []
    _leaves(value, shape, 0, leaves, where)
    converted = [_convert(leaf, spec.dtype, where, limits) for leaf in leaves]
    if spec.dtype == tf.string:
        array = np.empty(len(converted), dtype=object)
        array[:] = converted
    else:
        array = np.array(converted, dtype=spec.dtype.as_numpy_dtype)
    return array.reshape(shape)


def predict_inputs(payload: dict, signature: Signature, limits: Limits | None = None) -> tuple[dict[str, np.ndarray], bool]:
    """Signature inputs of a predict request, and whether it used the columnar format."""
    has_rows, has_columns = "instances" in payload, "inputs" in payload
    if has_rows == has_columns:
        raise invalid('the request needs exactly one of "instances" (row format) or "inputs" (columnar format)')
    names = list(signature.inputs)
    takes = "; ".join(f"{k}: {describe(v)}" for k, v in signature.inputs.items())
    if has_columns:
        columns = payload["inputs"]
        if not (isinstance(columns, dict) and not _is_b64(columns)):
            if len(names) != 1:
                raise invalid(f'"inputs" must be an object keyed by input name; signature {signature.name!r} takes {takes}')
            columns = {names[0]: columns}
        _check_names(columns, signature, takes)
        return {k: to_array(v, signature.inputs[k], f"input {k!r}", limits) for k, v in columns.items()}, True
    rows = payload["instances"]
    if not isinstance(rows, list):
        raise invalid(f'"instances" must be a list of rows, got {type(rows).__name__}')
    if not rows:
        raise invalid('"instances" is empty')
    if limits is not None and len(rows) > limits.rows:
        raise invalid(f"the request has {len(rows)} rows; the limit is {limits.rows} per request "
                      "(--max-batch-size with batching, else --max-request-rows); split it")
    named = all(isinstance(r, dict) and not _is_b64(r) for r in rows)
    if not named:
        if len(names) != 1 or any(isinstance(r, dict) and not _is_b64(r) for r in rows):
            raise invalid(f"each instance must be an object keyed by input name; signature {signature.name!r} takes {takes}")
        return {names[0]: to_array(rows, signature.inputs[names[0]], f"input {names[0]!r}", limits)}, False
    columns: dict[str, list] = {}
    for i, row in enumerate(rows):
        _check_names(row, signature, takes, f"instance {i}: ")
        for key, value in row.items():
            columns.setdefault(key, []).append(value)
    return {k: to_array(v, signature.inputs[k], f"input {k!r}", limits) for k, v in columns.items()}, False


def _check_names(given: dict, signature: Signature, takes: str, prefix: str = "") -> None:
    unknown = [k for k in given if k not in signature.inputs]
    missing = [k for k in signature.inputs if k not in given]
    if unknown:
        raise invalid(f"{prefix}unknown input {unknown[0]!r} for signature {signature.name!r}; it takes {takes}")
    if missing:
        raise invalid(f"{prefix}missing input {missing[0]!r} for signature {signature.name!r}; it takes {takes}")


def _text(value: bytes):
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode("ascii")}


def _texts(values: list) -> list:
    """Byte strings decoded as UTF-8 (``{"b64": …}`` where they are not), anything else as ``str``."""
    try:
        return [v.decode("utf-8") for v in values]  # the usual case: every value is UTF-8 bytes
    except (UnicodeDecodeError, AttributeError):
        return [_text(v) if isinstance(v, bytes) else str(v) for v in values]


def to_json(array: np.ndarray):
    """A NumPy output as JSON-ready nested lists (strings decoded)."""
    if array.dtype == object or array.dtype.kind == "S":
        texts = _texts(array.reshape(-1).tolist())
        if array.ndim == 0:
            return texts[0]
        if array.ndim == 1:
            return texts
        flat = np.empty(array.size, dtype=object)
        flat[:] = texts
        return flat.reshape(array.shape).tolist()
    return array.tolist()


def finite(outputs: dict[str, np.ndarray]) -> bool:
    """Whether no floating output holds a NaN or an infinity."""
    return all(np.isfinite(v).all() for v in outputs.values() if v.dtype.kind in "fc")


def encode_predict(outputs: dict[str, np.ndarray], columnar: bool) -> bytes:
    """The predict response as JSON bytes (see :func:`predict_response`)."""
    response = predict_response(outputs, columnar)
    if finite(outputs):
        try:
            return orjson.dumps(response)
        except TypeError:  # what orjson cannot write (e.g. an integer beyond 64 bits): json's turn
            pass
    return dumps(response)


def predict_response(outputs: dict[str, np.ndarray], columnar: bool) -> dict:
    """``{"outputs": …}`` (columnar) or ``{"predictions": [row, …]}`` (row format)."""
    converted = {k: to_json(v) for k, v in sorted(outputs.items())}
    if columnar:
        return {"outputs": next(iter(converted.values())) if len(converted) == 1 else converted}
    if len(converted) == 1:
        return {"predictions": next(iter(converted.values()))}
    names = list(converted)
    return {"predictions": [dict(zip(names, row)) for row in zip(*(converted[n] for n in names))]}


def dumps(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
