"""Errors a user can cause, each carrying the exit code the CLI returns."""


class MtlflowError(Exception):
    """Base class for errors caused by the user's config, data or command line.

    The CLI prints ``mtlflow: <kind>: <message>`` on one line and exits with
    ``exit_code`` (no traceback).
    """

    kind = "error"
    exit_code = 2


class ConfigError(MtlflowError):
    """The config file is invalid; the message names the key path, e.g. ``tasks[2].type``."""

    kind = "config error"


class DataError(MtlflowError):
    """A data file is invalid; the message names the file and line."""

    kind = "data error"


class TrainingError(MtlflowError):
    """Training cannot go on (e.g. a non-finite loss); the message names the task."""

    kind = "training error"
    exit_code = 1
