"""Size limits checked on what a request declares, before anything is decoded or allocated.

A gRPC ``TensorProto`` declares its shape in ``tensor_shape`` and may carry far fewer
values (31 bytes can claim fifty million strings); a JSON body declares its rows by the
length of its lists. Both front ends call these checks on the declared sizes first, so
an oversized request costs a few comparisons, not the memory it claims.
"""

from __future__ import annotations

from mtlflow.serving.errors import invalid
from mtlflow.serving.options import Limits


def check_shape(name: str, dims: list[int], limits: Limits) -> int:
    """Checks a declared shape (rows = ``dims[0]``); returns its number of elements."""
    if any(d < 0 for d in dims):
        raise invalid(f"input {name!r}: invalid tensor shape {dims} (negative dimension)")
    if dims and dims[0] > limits.rows:
        raise invalid(f"input {name!r} has {dims[0]} rows; the limit is {limits.rows} per request "
                      "(--max-batch-size with batching, else --max-request-rows); split it")
    elements = 1
    for d in dims:
        elements *= d  # Python integers: no overflow
    if elements > limits.elements:
        raise invalid(f"input {name!r} has {elements} values (shape {dims}); the limit is {limits.elements} per "
                      "input (--max-request-elements); split the request")
    return elements


def check_string(name: str, size: int, limits: Limits) -> None:
    if size > limits.string_bytes:
        raise invalid(f"input {name!r}: a string of {size} bytes; the limit is {limits.string_bytes} bytes per "
                      "string (--max-string-bytes)")
