"""The export's serving additions: per-task signatures, the model card's reference, atomic versions."""

import json
import logging
import shutil

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.export.reference import bin_counts, class_counts, observations, reference_distribution
from mtlflow.export.saved_model import complete_versions, existing_versions
from test_serving_helpers import TEXTS, in_process

TASKS = ("topic", "colors", "flag", "score", "tags")


@pytest.fixture(scope="module")
def export(trained_synthetic):
    run, _ = trained_synthetic
    path = run.directory / "export" / "1"
    return run, path, json.loads((path / "assets.extra" / "mtlflow.json").read_text("utf-8"))


def test_one_signature_per_task_with_only_its_outputs(export):
    run, path, _ = export
    loaded = tf.saved_model.load(str(path))
    assert sorted(loaded.signatures) == sorted(["serving_default"] + [f"predict_{t}" for t in TASKS])
    everything = in_process(run, TEXTS)
    for task in TASKS:
        out = {k: v.numpy() for k, v in loaded.signatures[f"predict_{task}"](text=tf.constant(TEXTS)).items()}
        assert out and all(k.startswith(f"{task}_") for k in out), (task, sorted(out))
        assert set(out) == {k for k in everything if k.startswith(f"{task}_")}
        for key, value in out.items():
            if value.dtype == object:
                assert value.tolist() == everything[key].tolist(), key
            else:
                np.testing.assert_allclose(value, everything[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_model_card_has_labels_metrics_and_a_reference_per_task(export):
    run, _, card = export
    assert card["format"] == "mtlflow-model-card/2"
    assert card["tasks"]["topic"]["labels"] == ["alpha", "beta", "delta", "gamma"]
    assert card["metrics"]["topic"]["accuracy"] > 0.5
    assert card["signatures"]["predict_tags"]["tasks"] == ["tags"]
    reference = card["reference"]
    assert reference["split"] == "validation" and reference["examples"] == 150
    topic = reference["tasks"]["topic"]
    assert topic["classes"]["labels"] == ["alpha", "beta", "delta", "gamma"]
    assert sum(topic["classes"]["counts"]) == 150
    assert abs(sum(topic["classes"]["frequencies"]) - 1) < 1e-9
    quantiles = topic["scores"]["quantiles"]
    assert list(quantiles) == [str(q / 10) for q in range(11)]
    assert all(a <= b for a, b in zip(list(quantiles.values()), list(quantiles.values())[1:]))
    assert "scores" in reference["tasks"]["score"] and "classes" not in reference["tasks"]["score"]
    assert reference["tasks"]["colors"]["classes"]["labels"][-1] == "(none)"
    assert set(reference["tasks"]["flag"]["classes"]["labels"]) == {"0", "1"}
    assert "B-item" in reference["tasks"]["tags"]["classes"]["labels"]
    assert card["padding"]["tags_span_starts"] == {"group": "tags/spans", "pad": -1}


def test_reference_bins_in_closed_form():
    values = np.arange(1, 101, dtype=np.float64)  # deciles cut 1..100 into ten bins of ten
    reference = reference_distribution("regression", "y", {"y_value": values})["scores"]
    assert reference["counts"] == [20] * 5
    assert bin_counts(np.array([0.0, 11.5, 1000.0]), reference["edges"]).tolist() == [2, 0, 0, 0, 1]
    assert class_counts(np.array(["a", "b", "a", "zz"], dtype=object), ["a", "b"]).tolist() == [2, 1, 1]
    found = observations("multilabel", "c", {"c_labels": np.array([[b"x", b""], [b"", b""]], dtype=object),
                                             "c_probabilities": np.array([[0.9, 0.1], [0.2, 0.3]])})
    assert found["classes"].tolist() == ["x", "(none)"] and len(found["scores"]) == 4


def test_incomplete_versions_are_not_complete(tmp_path, export):
    _, path, _ = export
    shutil.copytree(path, tmp_path / "1")
    (tmp_path / "2").mkdir()  # a version directory without saved_model.pb
    shutil.copytree(path, tmp_path / ".tmp-3-abcd")  # a staging directory
    assert existing_versions(tmp_path) == [1, 2]
    assert complete_versions(tmp_path) == [1]


def test_card_without_reference_data_says_why(export):
    from mtlflow.export.model_card import model_card

    run, _, _ = export
    card = model_card(run.inference(), run.tasks, {}, None, None, "no reference: the config has no validation split")
    assert card["reference"] is None
    assert card["reference_note"] == "no reference: the config has no validation split"


def test_export_writes_tf_serving_warmup_records(export):
    _, path, _ = export
    from tensorflow_serving.apis import prediction_log_pb2

    raw = tf.data.TFRecordDataset(str(path / "assets.extra" / "tf_serving_warmup_requests"))
    records = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in raw]
    assert {r.WhichOneof("log_type") for r in records} == {"predict_log"}
    requests_by_signature = {}
    for record in records:
        request = record.predict_log.request
        requests_by_signature.setdefault(request.model_spec.signature_name, []).append(request)
    assert sorted(requests_by_signature) == sorted(["serving_default"] + [f"predict_{t}" for t in TASKS])
    assert sorted(len(tf.make_ndarray(r.inputs["text"])) for r in requests_by_signature["serving_default"]) == [1, 8]
    loaded = tf.saved_model.load(str(path))
    for name, found in requests_by_signature.items():
        for request in found:
            outputs = loaded.signatures[name](text=tf.constant(tf.make_ndarray(request.inputs["text"])))
            assert all(v.shape[0] == len(request.inputs["text"].string_val) for v in outputs.values())


def test_the_server_replays_the_warmup_records_before_a_version_is_available(export, tmp_path, caplog):
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    from mtlflow.serving import Servable

    _, path, _ = export
    caplog.set_level(logging.INFO, logger="mtlflow.serving")
    Servable.load("m", 1, path)
    assert any("7 warm-up request(s) replayed" in r.getMessage() for r in caplog.records)
    broken = tmp_path / "1"
    shutil.copytree(path, broken)
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "predict_nothing"
    request.inputs["text"].CopyFrom(tf.make_tensor_proto(["alpha"]))
    with tf.io.TFRecordWriter(str(broken / "assets.extra" / "tf_serving_warmup_requests")) as writer:
        writer.write(prediction_log_pb2.PredictionLog(predict_log={"request": request}).SerializeToString())
    with pytest.raises(ValueError, match="warm-up record 0 .*predict_nothing"):
        Servable.load("m", 1, broken)
