"""Warm-up records in the export: ``assets.extra/tf_serving_warmup_requests``.

TF Serving replays the requests in this file before it marks a version AVAILABLE, so the
first real request does not pay for graph set-up (TF Serving's "SavedModel warmup"). The
file is a TFRecord file of ``tensorflow.serving.PredictionLog`` protos, at most 1,000
records; here one ``PredictLog`` per signature with a one-row input, and one with
:data:`BATCH_ROWS` rows for ``serving_default`` (the common batch shape), inputs built from
each signature's declared dtypes and shapes (texts of a few words; zeros for numbers).
``mtlflow serve`` replays the same file (:mod:`mtlflow.serving.warmup`).

Example::

    write_warmup_requests("models/nlu/.tmp-3-ab12cd34")   # after tf.saved_model.save
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"
BATCH_ROWS = 8
TEXTS = ("warm up", "a warm-up request of several words", "预热 请求", "x")


def warmup_inputs(signature_def, rows: int) -> dict:
    """``{input: TensorProto}`` for ``rows`` rows, from a SignatureDef's input specs."""
    inputs = {}
    for key, info in sorted(signature_def.inputs.items()):
        dtype = tf.dtypes.as_dtype(info.dtype)
        dims = [d.size for d in info.tensor_shape.dim] if not info.tensor_shape.unknown_rank else [-1]
        shape = [rows] + [d if d > 0 else 1 for d in dims[1:]]
        if dtype == tf.string:
            count = int(np.prod(shape))
            values = np.array([TEXTS[i % len(TEXTS)].encode() for i in range(count)], dtype=object).reshape(shape)
        else:
            values = np.zeros(shape, dtype.as_numpy_dtype)
        inputs[key] = tf.make_tensor_proto(values, dtype=dtype)
    return inputs


def write_warmup_requests(export_dir: str | Path) -> Path:
    """Writes the warm-up file of the SavedModel in ``export_dir``; returns its path.

    The requests follow the signatures recorded in ``export_dir/saved_model.pb``.
    """
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    export_dir = Path(export_dir)
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((export_dir / "saved_model.pb").read_bytes())
    graphs = [m for m in proto.meta_graphs if "serve" in m.meta_info_def.tags] or list(proto.meta_graphs)
    signatures = {k: v for k, v in graphs[0].signature_def.items() if not k.startswith("__")}
    plan = [(name, 1) for name in sorted(signatures)]
    if "serving_default" in signatures:
        plan.append(("serving_default", BATCH_ROWS))
    path = export_dir / WARMUP_FILE
    path.parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for name, rows in plan:
            request = predict_pb2.PredictRequest()
            request.model_spec.signature_name = name
            for key, tensor in warmup_inputs(signatures[name], rows).items():
                request.inputs[key].CopyFrom(tensor)
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
