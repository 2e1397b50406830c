"""Errors a request can cause, with the status they map to in gRPC and in HTTP."""

from __future__ import annotations

import grpc

# As TF Serving's REST API maps canonical codes to HTTP statuses.
HTTP_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNKNOWN: 500,
}


class ServingError(Exception):
    """A request the server cannot answer, and why.

    Args:
      message: one line for the client, naming what was wrong and what is accepted.
      code: the canonical status (``grpc.StatusCode``); INVALID_ARGUMENT by default.
      http_status: overrides the HTTP status derived from ``code`` (e.g. 413).
    """

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT,
                 http_status: int | None = None):
        super().__init__(message)
        self.code = code
        self.http_status = http_status or HTTP_STATUS.get(code, 500)

    @property
    def status(self) -> str:
        """The code's name, e.g. ``INVALID_ARGUMENT`` (the metrics' ``status`` label)."""
        return self.code.name


def invalid(message: str) -> ServingError:
    return ServingError(message, grpc.StatusCode.INVALID_ARGUMENT)


def not_found(message: str) -> ServingError:
    return ServingError(message, grpc.StatusCode.NOT_FOUND)


def deadline_exceeded(message: str) -> ServingError:
    """The server did not answer in time: its own fault, so 503 over REST (not 504, a gateway's)."""
    return ServingError(message, grpc.StatusCode.DEADLINE_EXCEEDED, http_status=503)


def too_large(message: str) -> ServingError:
    """A request over a size limit (checked on its declared size, before decoding)."""
    return ServingError(message, grpc.StatusCode.INVALID_ARGUMENT, http_status=413)
