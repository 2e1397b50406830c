"""The gRPC API: TF Serving's ``PredictionService`` and ``ModelService``.

Implemented on the servicer classes generated in ``tensorflow_serving.apis``, so the
stock stubs (``PredictionServiceStub``, ``ModelServiceStub``) talk to it unchanged.
Tensors go through ``tf.make_ndarray`` / ``tf.make_tensor_proto``. The A/B key is the
``x-mtlflow-key`` metadata entry. ``MultiInference`` and ``HandleReloadConfigRequest``
answer UNIMPLEMENTED.
"""

from __future__ import annotations

import logging
import time
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from mtlflow.serving import classification, protos
from mtlflow.serving.errors import ServingError, invalid
from mtlflow.serving.server_core import ServerCore

log = logging.getLogger("mtlflow.serving")

MAX_ELEMENTS = 50_000_000  # a TensorProto may claim any shape; refuse absurd ones before allocating


def _version(spec) -> tuple[int | None, str | None]:
    kind = spec.WhichOneof("version_choice")
    if kind == "version":
        return spec.version.value, None
    if kind == "version_label":
        return None, spec.version_label or None
    return None, None


def _key(context) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "x-mtlflow-key":
            return value
    return None


def to_ndarray(name: str, proto) -> np.ndarray:
    """A request TensorProto as NumPy, or INVALID_ARGUMENT."""
    dims = [d.size for d in proto.tensor_shape.dim]
    if any(d < 0 for d in dims) or int(np.prod(dims, dtype=np.float64)) > MAX_ELEMENTS:
        raise invalid(f"input {name!r}: invalid or too large tensor shape {dims}")
    try:
        return tf.make_ndarray(proto)
    except Exception as exc:  # malformed content: any conversion error is the client's
        raise invalid(f"input {name!r}: cannot decode the TensorProto: {str(exc).splitlines()[0][:200]}") from None


def examples_from_input(proto) -> tuple[list[dict], dict]:
    """``tensorflow.serving.Input`` (example_list or example_list_with_context) as feature dicts."""

    def features(example) -> dict:
        out = {}
        for key, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value) if kind else []
            out[key] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
        return out

    kind = proto.WhichOneof("kind")
    if kind == "example_list":
        return [features(e) for e in proto.example_list.examples], {}
    if kind == "example_list_with_context":
        lists = proto.example_list_with_context
        return [features(e) for e in lists.examples], features(lists.context)
    raise invalid("the request has no input examples (set input.example_list)")


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServerCore):
        self.core = core

    def _call(self, context, method: str, spec, body):
        """Runs ``body(route)``, counting it and turning ServingErrors into gRPC statuses."""
        core = self.core
        started = time.perf_counter()
        version, arm, status = "", None, "OK"
        signature_name = ""  # set once the signature is known (metrics labels stay bounded)
        try:
            with core.inflight(), core.arriving() as arrival:
                number, label = _version(spec)
                route = core.route(spec.name, number, label, _key(context))
                version, arm = route.servable.version, route.arm
                response, signature_name = body(route, arrival)
                return response
        except ServingError as exc:
            status = exc.status
            context.abort(exc.code, str(exc))
        except Exception as exc:
            status = "INTERNAL"
            log.exception("grpc %s on model %s failed", method, spec.name)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            core.record("grpc", spec.name, version, signature_name or method, status, time.perf_counter() - started, arm)

    def Predict(self, request, context):
        def body(route, arrival):
            servable = route.servable
            signature = servable.signature(request.model_spec.signature_name)
            inputs = {k: to_ndarray(k, v) for k, v in request.inputs.items()}
            wanted = list(request.output_filter)
            unknown = [k for k in wanted if k not in signature.outputs]
            if unknown:
                raise invalid(f"output_filter names unknown output {unknown[0]!r}; outputs: {', '.join(signature.outputs)}")
            outputs = self.core.run(servable, signature, inputs, arrival)
            response = predict_pb2.PredictResponse()
            response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
            for key in wanted or sorted(outputs):
                response.outputs[key].CopyFrom(tf.make_tensor_proto(outputs[key]))
            return response, signature.name

        return self._call(context, "predict", request.model_spec, body)

    def GetModelMetadata(self, request, context):
        """Signature defs of the named version, or of the latest one (never an A/B arm)."""
        spec = request.model_spec
        try:
            fields = list(request.metadata_field)
            if fields != ["signature_def"]:
                raise invalid(f"metadata_field must be ['signature_def'], got {fields}")
            number, label = _version(spec)
            return protos.metadata_response(self.core.manager(spec.name).resolve(number, label))
        except ServingError as exc:
            context.abort(exc.code, str(exc))

    def Classify(self, request, context):
        def body(route, arrival):
            servable = route.servable
            task, signature = classification.choose_task(
                servable, request.model_spec.signature_name, classification.CLASSIFIERS, "classify")
            examples, shared = examples_from_input(request.input)
            outputs = self.core.run(servable, signature, classification.example_inputs(examples, signature, shared), arrival)
            response = classification_pb2.ClassificationResponse()
            response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
            for row in classification.classes(servable, task, outputs):
                entry = response.result.classifications.add()
                for label, score in row:
                    entry.classes.add(label=label, score=score)
            return response, signature.name

        return self._call(context, "classify", request.model_spec, body)

    def Regress(self, request, context):
        def body(route, arrival):
            servable = route.servable
            task, signature = classification.choose_task(
                servable, request.model_spec.signature_name, classification.REGRESSORS, "regress")
            examples, shared = examples_from_input(request.input)
            outputs = self.core.run(servable, signature, classification.example_inputs(examples, signature, shared), arrival)
            response = regression_pb2.RegressionResponse()
            response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
            for value in classification.values(task, outputs):
                response.result.regressions.add(value=value)
            return response, signature.name

        return self._call(context, "regress", request.model_spec, body)

    def MultiInference(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "MultiInference is not implemented; call Classify or Regress per task")


class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, core: ServerCore):
        self.core = core

    def GetModelStatus(self, request, context):
        spec = request.model_spec
        number, label = _version(spec)
        try:
            return protos.status_response(self.core.manager(spec.name).status(number, label))
        except ServingError as exc:
            context.abort(exc.code, str(exc))

    def HandleReloadConfigRequest(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "reloading the model config is not supported; restart the server")


def grpc_server(core: ServerCore, host: str, port: int) -> tuple[grpc.Server, int]:
    """A started gRPC server on ``host:port`` (0: any free port); returns it and its port."""
    limit = core.options.max_body_bytes
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=core.options.grpc_workers, thread_name_prefix="grpc"),
        options=[("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", 64 * 1024 * 1024),
                 ("grpc.so_reuseport", 0)],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(core), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    bound = server.add_insecure_port(address)
    if bound == 0:
        raise OSError(f"cannot bind the gRPC port {address}")
    server.start()
    return server, bound
