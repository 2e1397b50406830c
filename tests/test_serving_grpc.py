"""The gRPC API with TF Serving's own stubs on loopback."""

import grpc
import pytest
import tensorflow as tf
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import TEXTS, assert_outputs_equal, in_process, make_base


@pytest.fixture(scope="module")
def server(trained_synthetic, tmp_path_factory):
    run, _ = trained_synthetic
    base = make_base(run, tmp_path_factory.mktemp("grpc") / "m")
    options = ServerOptions(rest_port=-1, grpc_port=0, poll_seconds=0, enable_batching=True, max_batch_size=16)
    with ModelServer([ModelConfig("m", base)], options) as server:
        yield run, server


@pytest.fixture(scope="module")
def stubs(server):
    run, server = server
    channel = grpc.insecure_channel(server.grpc_target)
    yield run, prediction_service_pb2_grpc.PredictionServiceStub(channel), \
        model_service_pb2_grpc.ModelServiceStub(channel)
    channel.close()


def predict_request(texts, signature="", version=None, name="m"):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    if version is not None:
        request.model_spec.version.value = version
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(texts))
    return request


def test_predict_matches_the_in_process_model(stubs):
    run, predict, _ = stubs
    response = predict.Predict(predict_request(TEXTS), timeout=30)
    assert response.model_spec.name == "m" and response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"
    assert_outputs_equal({k: tf.make_ndarray(v) for k, v in response.outputs.items()}, in_process(run, TEXTS))


def test_predict_per_task_signature_and_output_filter(stubs):
    run, predict, _ = stubs
    response = predict.Predict(predict_request(TEXTS, "predict_tags"), timeout=30)
    assert set(response.outputs) == {f"tags_{k}" for k in ("tags", "tag_scores", "span_types", "span_texts",
                                                           "span_starts", "span_ends")}
    request = predict_request(TEXTS)
    request.output_filter.append("topic_label")
    labels = tf.make_ndarray(predict.Predict(request, timeout=30).outputs["topic_label"])
    assert labels.tolist() == in_process(run, TEXTS)["topic_label"].tolist()


def test_metadata_and_status(stubs):
    _, predict, models = stubs
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "m"
    request.metadata_field.append("signature_def")
    response = predict.GetModelMetadata(request, timeout=30)
    assert response.model_spec.version.value == 1
    signatures = get_model_metadata_pb2.SignatureDefMap()
    response.metadata["signature_def"].Unpack(signatures)
    assert "predict_topic" in signatures.signature_def
    assert signatures.signature_def["serving_default"].inputs["text"].dtype == tf.string.as_datatype_enum

    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "m"
    status = models.GetModelStatus(status_request, timeout=30)
    (entry,) = status.model_version_status
    assert entry.version == 1
    assert entry.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


def test_classify_and_regress(stubs):
    run, predict, _ = stubs
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "m"
    request.model_spec.signature_name = "predict_flag"
    for text in TEXTS:
        request.input.example_list.examples.add().features.feature["text"].bytes_list.value.append(text.encode())
    result = predict.Classify(request, timeout=30).result
    expected = in_process(run, TEXTS)["flag_probability"]
    assert [c.classes[1].label for c in result.classifications] == ["1"] * len(TEXTS)
    assert [c.classes[1].score for c in result.classifications] == pytest.approx(expected.tolist(), rel=1e-5)

    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "m"
    regress.input.example_list.examples.add().features.feature["text"].bytes_list.value.append(b"alpha up up")
    value = predict.Regress(regress, timeout=30).result.regressions[0].value
    assert value == pytest.approx(float(in_process(run, ["alpha up up"])["score_value"][0]), rel=1e-5)


def test_errors_have_the_right_status(stubs):
    _, predict, models = stubs
    cases = [
        (predict_request(["a b"], name="nope"), grpc.StatusCode.NOT_FOUND),
        (predict_request(["a b"], version=9), grpc.StatusCode.NOT_FOUND),
        (predict_request(["a b"], signature="predict_nothing"), grpc.StatusCode.INVALID_ARGUMENT),
        (predict_request([1.5, 2.5]), grpc.StatusCode.INVALID_ARGUMENT),
        (predict_request([["a", "b"]]), grpc.StatusCode.INVALID_ARGUMENT),
        (predict_request(["a b"] * 17), grpc.StatusCode.INVALID_ARGUMENT),  # above max_batch_size
    ]
    wrong_name = predict_request(["a b"])
    wrong_name.inputs["txt"].CopyFrom(wrong_name.inputs.pop("text"))
    cases.append((wrong_name, grpc.StatusCode.INVALID_ARGUMENT))
    for request, code in cases:
        with pytest.raises(grpc.RpcError) as info:
            predict.Predict(request, timeout=30)
        assert info.value.code() == code, (request.model_spec, info.value.details())
        assert info.value.details()
    with pytest.raises(grpc.RpcError) as info:  # three classification tasks: which one?
        predict.Classify(classification_pb2.ClassificationRequest(model_spec={"name": "m"}), timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "predict_topic" in info.value.details()
    status_request = get_model_status_pb2.GetModelStatusRequest()
    status_request.model_spec.name = "nope"
    with pytest.raises(grpc.RpcError) as info:
        models.GetModelStatus(status_request, timeout=30)
    assert info.value.code() == grpc.StatusCode.NOT_FOUND
    assert predict.Predict(predict_request(["alpha w1"]), timeout=30).outputs  # still serving


def test_multi_inference_answers_classify_and_regress_tasks_in_one_call(stubs):
    run, predict, _ = stubs
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (("predict_topic", "classify"), ("predict_score", "regress"), ("flag", "classify")):
        task = request.tasks.add(method_name=f"tensorflow/serving/{method}")
        task.model_spec.name = "m"
        task.model_spec.signature_name = signature
    for text in TEXTS:
        request.input.example_list.examples.add().features.feature["text"].bytes_list.value.append(text.encode())
    topic, score, flag = predict.MultiInference(request, timeout=30).results
    expected = in_process(run, TEXTS)
    assert [c.label for c in topic.classification_result.classifications[0].classes] == ["alpha", "beta", "delta",
                                                                                         "gamma"]
    assert [c.classes[1].score for c in topic.classification_result.classifications] == pytest.approx(
        expected["topic_probabilities"][:, 1].tolist(), rel=1e-5)
    assert [r.value for r in score.regression_result.regressions] == pytest.approx(expected["score_value"].tolist(),
                                                                                   rel=1e-5)
    assert [c.classes[1].score for c in flag.classification_result.classifications] == pytest.approx(
        expected["flag_probability"].tolist(), rel=1e-5)
    assert score.model_spec.signature_name == "predict_score" and score.model_spec.version.value == 1
    wrong = inference_pb2.MultiInferenceRequest()
    wrong.CopyFrom(request)
    wrong.tasks[1].method_name = "tensorflow/serving/predict"
    with pytest.raises(grpc.RpcError) as info:
        predict.MultiInference(wrong, timeout=30)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "method_name" in info.value.details()


def test_reflection_lists_the_services_and_health_answers(server):
    with grpc.insecure_channel(server[1].grpc_target) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert {"tensorflow.serving.PredictionService", "tensorflow.serving.ModelService",
                "grpc.health.v1.Health"} <= set(services)
        health = health_pb2_grpc.HealthStub(channel)
        for service in ("", "m", "tensorflow.serving.PredictionService"):
            answer = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
            assert answer.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as info:
            health.Check(health_pb2.HealthCheckRequest(service="nope"), timeout=10)
        assert info.value.code() == grpc.StatusCode.NOT_FOUND
