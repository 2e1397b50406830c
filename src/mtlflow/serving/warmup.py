"""Replaying ``assets.extra/tf_serving_warmup_requests`` before a version takes requests.

As TF Serving does: the file is a TFRecord file of ``PredictionLog`` protos (at most
1,000); each ``predict_log``, ``classify_log``, ``regress_log`` and
``multi_inference_log`` request is run once on the version being loaded, through the same
input checks as a real request. A record that cannot be replayed fails the load, and the
version is not served (a model whose warm-up requests fail would fail real ones too).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import tensorflow as tf

from mtlflow.export.warmup import WARMUP_FILE
from mtlflow.serving.errors import ServingError

log = logging.getLogger("mtlflow.serving")

MAX_RECORDS = 1000  # TF Serving's limit

__all__ = ["MAX_RECORDS", "WARMUP_FILE", "replay_warmup", "read_warmup_records"]


def read_warmup_records(path: str | Path) -> list:
    """The ``PredictionLog`` records of a warm-up file."""
    from tensorflow_serving.apis import prediction_log_pb2

    records = []
    for i, raw in enumerate(tf.data.TFRecordDataset(str(path))):
        if i >= MAX_RECORDS:
            raise ValueError(f"{path}: more than {MAX_RECORDS} warm-up records (TF Serving's limit)")
        records.append(prediction_log_pb2.PredictionLog.FromString(raw.numpy()))
    return records


def replay_warmup(servable, path: str | Path) -> int:
    """Runs every warm-up record on ``servable``; returns how many ran."""
    from mtlflow.serving import classification
    from mtlflow.serving.grpc_service import examples_from_input
    from mtlflow.serving.servable import check_inputs

    began = time.perf_counter()
    records = read_warmup_records(path)
    for i, record in enumerate(records):
        kind = record.WhichOneof("log_type")
        try:
            if kind == "predict_log":
                request = record.predict_log.request
                signature = servable.signature(request.model_spec.signature_name)
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                check_inputs(signature, inputs, max_rows=2**31)
                servable.run(signature.name, inputs)
                continue
            if kind in ("classify_log", "regress_log"):
                request = getattr(record, kind).request
                tasks = [(request.model_spec.signature_name, "classify" if kind == "classify_log" else "regress")]
            elif kind == "multi_inference_log":
                request = record.multi_inference_log.request
                tasks = [(t.model_spec.signature_name, t.method_name.rsplit("/", 1)[-1]) for t in request.tasks]
            else:
                raise ValueError(f"unsupported record type {kind!r}")
            examples, context = examples_from_input(request.input)
            for signature_name, api in tasks:
                kinds = classification.CLASSIFIERS if api == "classify" else classification.REGRESSORS
                _, signature = classification.choose_task(servable, signature_name, kinds, api)
                servable.run(signature.name, classification.example_inputs(examples, signature, context))
        except ServingError as exc:
            raise ValueError(f"{path}: warm-up record {i} ({kind}) failed: {exc}") from None
    log.info("model %s version %d: %d warm-up request(s) replayed in %.2fs", servable.name, servable.version,
             len(records), time.perf_counter() - began)
    return len(records)
