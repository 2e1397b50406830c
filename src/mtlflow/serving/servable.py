"""One loaded model version: its SavedModel signatures, ready to call on NumPy inputs.

A signature is called through the loaded SavedModel's own concrete function (the graph
the export traced; no Keras, no ``model.predict``), looked up once at load time and kept
per signature. Inputs are checked against the signature before the call, so a wrong
name, dtype or shape is a clear INVALID_ARGUMENT instead of a TensorFlow stack trace.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from mtlflow.serving.errors import ServingError, invalid

log = logging.getLogger("mtlflow.serving")

DEFAULT_SIGNATURE = "serving_default"
_CODES = {code.value[0]: code for code in grpc.StatusCode}


class Signature(NamedTuple):
    """One callable signature of a servable.

    Attributes:
      name: the signature key (``serving_default``, ``predict_<task>``, …).
      function: the loaded concrete function.
      inputs / outputs: ``{name: tf.TensorSpec}``.
      padding: ``{output: {"group", "pad"}}`` from the model card, for outputs whose
        axis 1 depends on the batch.
      batchable: whether requests can be concatenated and their outputs cut back
        exactly (every output has a batch axis and otherwise static or padded axes).
    """

    name: str
    function: Any
    inputs: dict[str, tf.TensorSpec]
    outputs: dict[str, tf.TensorSpec]
    padding: dict[str, dict]
    batchable: bool


def _batchable(inputs: dict, outputs: dict, padding: dict) -> bool:
    if not inputs or any(s.shape.rank is None or s.shape.rank < 1 for s in [*inputs.values(), *outputs.values()]):
        return False
    for name, spec in outputs.items():
        dims = spec.shape.as_list()[1:]
        if any(d is None for d in dims) and not (name in padding and dims[1:].count(None) == 0):
            return False
    return True


class Servable:
    """A loaded version of a model.

    Use :meth:`load`; then :meth:`signature` and :meth:`run`. ``card`` is the mtlflow
    model card (``{}`` for a SavedModel from elsewhere: it is served all the same, without
    drift reference, classify/regress or batching of padded outputs).
    """

    def __init__(self, name: str, version: int, path: Path, loaded, signature_defs: dict, card: dict):
        self.name = name
        self.version = version
        self.path = path
        self.card = card
        self.signature_defs = signature_defs  # {key: SignatureDef proto}
        self._loaded = loaded  # keeps the functions' resources alive
        padding = card.get("padding", {}) if isinstance(card.get("padding"), dict) else {}
        self.signatures: dict[str, Signature] = {}
        for key in signature_defs:
            function = loaded.signatures[key]
            inputs = dict(function.structured_input_signature[1])
            outputs = {k: v for k, v in function.structured_outputs.items()}
            own = {k: v for k, v in padding.items() if k in outputs}
            self.signatures[key] = Signature(key, function, inputs, outputs, own, _batchable(inputs, outputs, own))

    @classmethod
    def load(cls, name: str, version: int, path: str | Path, warmup: bool = True) -> "Servable":
        """Loads ``path`` (a SavedModel directory) and, by default, runs each signature once.

        Raises whatever loading raises (the manager records it as the version's error).
        """
        path = Path(path)
        graph = path / "saved_model.pb"
        if not graph.is_file():
            raise FileNotFoundError(f"{path}: no saved_model.pb (an incomplete export)")
        proto = saved_model_pb2.SavedModel()
        proto.ParseFromString(graph.read_bytes())
        serve = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags] or list(proto.meta_graphs)
        if not serve:
            raise ValueError(f"{graph}: no meta graph")
        defs = {k: v for k, v in serve[0].signature_def.items() if not k.startswith("__")}
        if not defs:
            raise ValueError(f"{graph}: no serving signatures")
        card = {}
        card_path = path / "assets.extra" / "mtlflow.json"
        if card_path.is_file():
            try:
                card = json.loads(card_path.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                log.warning("%s: unreadable model card, serving without it: %s", card_path, exc)
        servable = cls(name, version, path, tf.saved_model.load(str(path)), defs, card)
        if warmup:
            servable.warmup()
        return servable

    def warmup(self) -> None:
        """Replays the export's warm-up records, or runs every signature on a one-row input.

        With ``assets.extra/tf_serving_warmup_requests`` (TF Serving's file; mtlflow's
        export writes it) its requests are replayed, as TF Serving does before a version
        becomes AVAILABLE (:mod:`mtlflow.serving.warmup`). Without it, a dummy input
        stands in; one the model rejects (a :class:`ServingError`) is only logged, since it
        may not suit every model. Anything else fails the load.
        """
        from mtlflow.serving.warmup import WARMUP_FILE, replay_warmup

        if (self.path / WARMUP_FILE).is_file():
            replay_warmup(self, self.path / WARMUP_FILE)
            return
        for signature in self.signatures.values():
            inputs = {}
            for key, spec in signature.inputs.items():
                shape = [1] + [d or 1 for d in spec.shape.as_list()[1:]]
                if spec.dtype == tf.string:
                    inputs[key] = np.full(shape, "warm up 预热".encode(), dtype=object)
                else:
                    inputs[key] = np.zeros(shape, spec.dtype.as_numpy_dtype)
            try:
                self.run(signature.name, inputs)
            except ServingError as exc:
                log.warning("model %s version %d: warm-up of %s skipped: %s", self.name, self.version,
                            signature.name, exc)

    def signature(self, name: str | None) -> Signature:
        key = name or DEFAULT_SIGNATURE
        found = self.signatures.get(key)
        if found is None:
            raise invalid(f"model {self.name!r} version {self.version} has no signature {key!r}; "
                          f"it has {', '.join(sorted(self.signatures))}")
        return found

    @property
    def tasks(self) -> dict[str, dict]:
        tasks = self.card.get("tasks")
        return tasks if isinstance(tasks, dict) else {}

    def run(self, signature_name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Calls the signature on checked inputs; returns NumPy outputs.

        A TensorFlow error (e.g. an input the graph cannot process) becomes a
        :class:`ServingError` with TensorFlow's status code and first message line.
        """
        signature = self.signature(signature_name)
        try:
            tensors = {k: tf.constant(v, dtype=signature.inputs[k].dtype) for k, v in inputs.items()}
        except (TypeError, ValueError) as exc:
            raise invalid(f"inputs cannot be converted to the signature's dtypes: {_first_line(str(exc))}") from None
        try:
            outputs = signature.function(**tensors)
        except tf.errors.OpError as exc:
            code = _CODES.get(exc.error_code, grpc.StatusCode.UNKNOWN)
            if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
                raise
            raise ServingError(f"the model could not run on this input: {_first_line(exc.message)}", code) from None
        return {k: v.numpy() for k, v in outputs.items()}


def _first_line(message: str) -> str:
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Graph execution error", "Detected at node", "<stack", "[["))]
    return (useful or lines or ["unknown error"])[0][:300]


def describe(spec: tf.TensorSpec) -> str:
    """``string [-1]``-style description of an input (``-1``: any size)."""
    dims = ["-1" if d is None else str(d) for d in spec.shape.as_list()] if spec.shape.rank is not None else ["..."]
    return f"{spec.dtype.name} [{', '.join(dims)}]"


def _check_numeric(key: str, spec: tf.TensorSpec, value: np.ndarray) -> None:
    kind = value.dtype.kind
    if kind not in "biuf":
        raise invalid(f"input {key!r}: expected {describe(spec)}, got {value.dtype.name} values")
    if (kind == "b") != (spec.dtype == tf.bool):
        got = "booleans" if kind == "b" else "numbers"
        raise invalid(f"input {key!r}: expected {describe(spec)}, got {got}")
    if spec.dtype.is_integer:
        if kind == "f":
            raise invalid(f"input {key!r}: expected integers ({describe(spec)}), got floating-point values")
        if value.size and (value.min() < spec.dtype.min or value.max() > spec.dtype.max):
            raise invalid(f"input {key!r}: values out of range for {spec.dtype.name}")


def check_inputs(signature: Signature, inputs: dict[str, np.ndarray], max_rows: int,
                 max_elements: int | None = None) -> int:
    """Checks names, dtypes and shapes of ``inputs`` for ``signature``; returns the batch size.

    (The front ends check the declared sizes before decoding; this is the last line.)

    Raises INVALID_ARGUMENT naming the input, what was given and what is accepted.
    """
    expected = signature.inputs
    unknown = sorted(set(inputs) - set(expected))
    missing = sorted(set(expected) - set(inputs))
    takes = "; ".join(f"{k}: {describe(v)}" for k, v in expected.items())
    if unknown:
        raise invalid(f"unknown input {unknown[0]!r} for signature {signature.name!r}; it takes {takes}")
    if missing:
        raise invalid(f"missing input {missing[0]!r} for signature {signature.name!r}; it takes {takes}")
    rows = None
    for key, spec in expected.items():
        value = inputs[key]
        if spec.dtype == tf.string:
            if value.dtype != object and value.dtype.kind not in "SU":
                raise invalid(f"input {key!r}: expected strings ({describe(spec)}), got {value.dtype.name} values")
        else:
            _check_numeric(key, spec, value)
        shape = spec.shape
        if shape.rank is not None:
            if value.ndim != shape.rank:
                raise invalid(f"input {key!r}: expected {describe(spec)}, got a tensor of shape {list(value.shape)}")
            for axis, (want, got) in enumerate(zip(shape.as_list(), value.shape)):
                if want is not None and want != got:
                    raise invalid(f"input {key!r}: expected {describe(spec)}, got shape {list(value.shape)} "
                                  f"(axis {axis} must be {want})")
        if value.ndim == 0:
            raise invalid(f"input {key!r}: expected a batch ({describe(spec)}), got a scalar")
        if max_elements is not None and value.size > max_elements:
            raise invalid(f"input {key!r} has {value.size} values; the limit is {max_elements} per input "
                          "(--max-request-elements); split the request")
        if rows is not None and value.shape[0] != rows:
            raise invalid(f"inputs disagree on the batch size: {key!r} has {value.shape[0]} rows, others {rows}")
        rows = value.shape[0]
    if not rows:
        raise invalid("the request has no rows (an empty batch)")
    if rows > max_rows:
        raise invalid(f"the request has {rows} rows; the limit is {max_rows} per request "
                      "(--max-batch-size with batching, else --max-request-rows); split it")
    return rows
