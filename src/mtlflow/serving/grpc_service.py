"""The gRPC API: TF Serving's ``PredictionService`` and ``ModelService``, health and reflection.

Implemented on the servicer classes generated in ``tensorflow_serving.apis``, so the
stock stubs (``PredictionServiceStub``, ``ModelServiceStub``) talk to it unchanged:
Predict, Classify, Regress, MultiInference (classify and regress tasks of one model, one
model call), GetModelMetadata, GetModelStatus and HandleReloadConfigRequest (add, remove
and re-configure models while serving). Tensors go through ``tf.make_ndarray`` /
``tf.make_tensor_proto``, after their declared shapes passed the size limits
(:mod:`mtlflow.serving.limits`). The A/B key is the ``x-mtlflow-key`` metadata entry.

Beside them, the standard ``grpc.health.v1.Health`` service (``""``: the server; each
model's name: SERVING while it has an available version; everything NOT_SERVING once
shutdown begins) and server reflection (``grpcurl`` lists and calls the services without
the protos). ``grpc_max_concurrent_rpcs`` calls run at once (more: RESOURCE_EXHAUSTED);
messages are limited to ``max_body_bytes`` in and ``max_response_bytes`` out.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import tensorflow as tf
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    model_management_pb2,
    model_service_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from mtlflow.errors import MtlflowError
from mtlflow.serving import classification, protos
from mtlflow.serving.config_file import models_from_proto
from mtlflow.serving.errors import ServingError, invalid
from mtlflow.serving.limits import check_shape, check_string
from mtlflow.serving.options import Limits
from mtlflow.serving.servable import DEFAULT_SIGNATURE
from mtlflow.serving.server_core import ServerCore

log = logging.getLogger("mtlflow.serving")

PREDICTION_SERVICE = prediction_service_pb2.DESCRIPTOR.services_by_name["PredictionService"].full_name
MODEL_SERVICE = model_service_pb2.DESCRIPTOR.services_by_name["ModelService"].full_name
METHODS = {"tensorflow/serving/classify": "classify", "tensorflow/serving/regress": "regress"}


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


def to_ndarray(name: str, proto, limits: Limits) -> np.ndarray:
    """A request TensorProto as NumPy, or INVALID_ARGUMENT.

    The declared shape is checked against ``limits`` first; a string tensor must carry
    one value per element (no fill from a single value) and no string over the limit.
    """
    if proto.tensor_shape.unknown_rank:
        raise invalid(f"input {name!r}: the tensor has an unknown rank; give its shape")
    elements = check_shape(name, [d.size for d in proto.tensor_shape.dim], limits)
    if proto.dtype == types_pb2.DT_STRING:
        if len(proto.string_val) != elements:
            raise invalid(f"input {name!r}: the shape declares {elements} strings but {len(proto.string_val)} "
                          "are given; send one value per element")
        for value in proto.string_val:
            check_string(name, len(value), limits)
    try:
        return tf.make_ndarray(proto)
    except Exception as exc:  # malformed content: any conversion error is the client's
        raise invalid(f"input {name!r}: cannot decode the TensorProto: {str(exc).splitlines()[0][:200]}") from None


def examples_from_input(proto, limits: Limits | None = None) -> tuple[list[dict], dict]:
    """``tensorflow.serving.Input`` (example_list or example_list_with_context) as feature dicts.

    With ``limits``, the number of examples and each value's size are checked first.
    """

    def features(example) -> dict:
        out = {}
        for key, feature in example.features.feature.items():
            kind = feature.WhichOneof("kind")
            values = list(getattr(feature, kind).value) if kind else []
            if limits is not None:
                check_shape(key, [len(values)], Limits(limits.elements, limits.elements, limits.string_bytes))
                for v in values:
                    if isinstance(v, bytes):
                        check_string(key, len(v), limits)
            out[key] = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values]
        return out

    kind = proto.WhichOneof("kind")
    if kind not in ("example_list", "example_list_with_context"):
        raise invalid("the request has no input examples (set input.example_list)")
    lists = getattr(proto, kind)
    if limits is not None and len(lists.examples) > limits.rows:
        raise invalid(f"the request has {len(lists.examples)} examples; the limit is {limits.rows} per request "
                      "(--max-batch-size with batching, else --max-request-rows); split it")
    context = features(lists.context) if kind == "example_list_with_context" else {}
    return [features(e) for e in lists.examples], context


class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, core: ServerCore):
        self.core = core

    def _call(self, context, method: str, spec, body):
        """Runs ``body(route)``, counting it and turning ServingErrors into gRPC statuses."""
        core = self.core
        started = time.perf_counter()
        version, arm, status = "", None, "OK"
        signature_name = ""  # set once the signature is known (metrics labels stay bounded)
        seen: dict = {}  # the decoded inputs, for the request log
        try:
            with core.inflight(), core.arriving() as arrival:
                number, label = _version(spec)
                route = core.route(spec.name, number, label, _key(context))
                version, arm = route.servable.version, route.arm
                response, signature_name = body(route, arrival, seen)
                return response
        except ServingError as exc:
            status = exc.status
            context.abort(exc.code, str(exc))
        except Exception as exc:
            status = "INTERNAL"
            log.exception("grpc %s on model %s failed", method, spec.name)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}")
        finally:
            core.record("grpc", spec.name, version, signature_name or method, status, time.perf_counter() - started, arm,
                        seen.get("inputs"))

    def Predict(self, request, context):
        def body(route, arrival, seen):
            servable = route.servable
            signature = servable.signature(request.model_spec.signature_name)
            limits = self.core.options.limits
            inputs = seen["inputs"] = {k: to_ndarray(k, v, limits) for k, v in request.inputs.items()}
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
        def body(route, arrival, seen):
            servable = route.servable
            task, signature = classification.choose_task(
                servable, request.model_spec.signature_name, classification.CLASSIFIERS, "classify")
            examples, shared = examples_from_input(request.input, self.core.options.limits)
            inputs = seen["inputs"] = classification.example_inputs(examples, signature, shared)
            outputs = self.core.run(servable, signature, inputs, arrival)
            response = classification_pb2.ClassificationResponse()
            response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
            for row in classification.classes(servable, task, outputs):
                entry = response.result.classifications.add()
                for label, score in row:
                    entry.classes.add(label=label, score=score)
            return response, signature.name

        return self._call(context, "classify", request.model_spec, body)

    def Regress(self, request, context):
        def body(route, arrival, seen):
            servable = route.servable
            task, signature = classification.choose_task(
                servable, request.model_spec.signature_name, classification.REGRESSORS, "regress")
            examples, shared = examples_from_input(request.input, self.core.options.limits)
            inputs = seen["inputs"] = classification.example_inputs(examples, signature, shared)
            outputs = self.core.run(servable, signature, inputs, arrival)
            response = regression_pb2.RegressionResponse()
            response.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
            for value in classification.values(task, outputs):
                response.result.regressions.add(value=value)
            return response, signature.name

        return self._call(context, "regress", request.model_spec, body)

    def MultiInference(self, request, context):
        """Several classify/regress tasks of one model on the same examples, in one model call.

        Every task must name the same model (and version or label, as TF Serving requires);
        ``signature_name`` picks each task as in Classify/Regress.
        """
        tasks = list(request.tasks)

        def body(route, arrival, seen):
            if not tasks:
                raise invalid("MultiInference needs at least one task")
            first = tasks[0].model_spec
            for t in tasks[1:]:
                if t.model_spec.name != first.name or _version(t.model_spec) != _version(first):
                    raise invalid("every MultiInference task must name the same model and version "
                                  f"(got {first.name!r} and {t.model_spec.name!r})")
            servable = route.servable
            chosen = []
            for t in tasks:
                api = METHODS.get(t.method_name)
                if api is None:
                    raise invalid(f"method_name {t.method_name!r} is not supported; use one of {', '.join(METHODS)}")
                kinds = classification.CLASSIFIERS if api == "classify" else classification.REGRESSORS
                chosen.append((api, *classification.choose_task(servable, t.model_spec.signature_name, kinds, api)))
            examples, shared = examples_from_input(request.input, self.core.options.limits)
            default = servable.signatures.get(DEFAULT_SIGNATURE)
            if default is not None and all(any(k.startswith(f"{task}_") for k in default.outputs) for _, task, _ in chosen):
                calls = {sig.name: default for _, _, sig in chosen}  # one call answers every task
            else:
                calls = {sig.name: sig for _, _, sig in chosen}
            outputs: dict[str, dict] = {}
            for name, signature in calls.items():
                if signature.name not in outputs:
                    inputs = seen["inputs"] = classification.example_inputs(examples, signature, shared)
                    outputs[signature.name] = self.core.run(servable, signature, inputs, arrival)
                    arrival = None
            response = inference_pb2.MultiInferenceResponse()
            for api, task, signature in chosen:
                result = response.results.add()
                result.model_spec.CopyFrom(protos.model_spec(servable.name, servable.version, signature.name))
                answer = outputs[calls[signature.name].name]
                if api == "classify":
                    for row in classification.classes(servable, task, answer):
                        entry = result.classification_result.classifications.add()
                        for label, score in row:
                            entry.classes.add(label=label, score=score)
                else:
                    for value in classification.values(task, answer):
                        result.regression_result.regressions.add(value=value)
            return response, "multi_inference"

        spec = tasks[0].model_spec if tasks else protos.model_spec("")
        return self._call(context, "multi_inference", spec, body)


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
        """Serves exactly the request's ``ModelServerConfig`` from now on (TF Serving's semantics).

        Relative base paths are taken relative to the server's working directory.
        """
        response = model_management_pb2.ReloadConfigResponse()
        try:
            models = models_from_proto(request.config, "ReloadConfigRequest.config")
            summary = self.core.reload(models)
        except MtlflowError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        response.status.error_code = error_codes_pb2.OK
        response.status.error_message = "; ".join(f"{k}: {', '.join(v)}" for k, v in summary.items() if v)
        return response


class GrpcFrontEnd:
    """The started gRPC server, its port and its health service."""

    def __init__(self, core: ServerCore, host: str, port: int):
        options = core.options
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=options.grpc_workers, thread_name_prefix="grpc"),
            options=[("grpc.max_receive_message_length", options.max_body_bytes),
                     ("grpc.max_send_message_length", options.max_response_bytes), ("grpc.so_reuseport", 0)],
            maximum_concurrent_rpcs=options.grpc_max_concurrent_rpcs,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionServicer(core), self.server)
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelServicer(core), self.server)
        self.health = health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (PREDICTION_SERVICE, MODEL_SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server)
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.port = self.server.add_insecure_port(address)
        if self.port == 0:
            raise OSError(f"cannot bind the gRPC port {address}")
        serving = health_pb2.HealthCheckResponse.SERVING
        for service in ("", PREDICTION_SERVICE, MODEL_SERVICE):
            self.health.set(service, serving)
        self._statuses: dict[str, int] = {}
        self._status_lock = threading.Lock()
        core.add_listener(self._model_changed)
        self.server.start()

    def _model_changed(self, name: str, serving: bool) -> None:
        """Sets a model's health status when it changes: Watch streams send every ``set``, and
        a swap (version 2 loads while 1 still serves) must not tell a watcher SERVING twice."""
        status = health_pb2.HealthCheckResponse
        value = status.SERVING if serving else status.NOT_SERVING
        with self._status_lock:
            if self._statuses.get(name) == value:
                return
            self._statuses[name] = value
            self.health.set(name, value)

    def stop(self, grace: float):
        """Every health status goes NOT_SERVING, then the server drains for ``grace`` seconds."""
        self.health.enter_graceful_shutdown()
        return self.server.stop(grace=grace)
