"""``mtlflow.keras.MultiTaskModel`` as a Keras user meets it: masks as ``sample_weight`` or as a
mask dict, metrics and callbacks, ``.keras`` round trips with the balancer's state, SavedModel
export, staged freezing, subclassing and clear errors."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

import mtlflow.balance as balance
from mtlflow.keras import MultiTaskModel, StagedTraining

N, DIM = 64, 6


def two_heads(seed: int = 0) -> keras.Model:
    """The classic two-head model: a shared Dense trunk, a 3-class head and a regression head."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((DIM,), name="features")
    h = keras.layers.Dense(12, activation="relu", name="trunk")(inputs)
    return keras.Model(inputs, {"topic": keras.layers.Dense(3, activation="softmax", name="topic")(h),
                                "score": keras.layers.Dense(1, name="score")(h)})


LOSSES = {"topic": "sparse_categorical_crossentropy", "score": "mse"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, DIM)).astype("float32")
    y = {"topic": np.digitize(x[:, 0], [-0.4, 0.4]).astype("int32"),
         "score": (x[:, 1] + 0.5 * x[:, 2]).astype("float32")}
    masks = {"topic": np.ones(N, "float32"), "score": (rng.random(N) > 0.5).astype("float32")}
    return x, y, masks


def compiled(balancer=None, **kwargs) -> MultiTaskModel:
    model = MultiTaskModel(two_heads())
    kwargs.setdefault("optimizers", keras.optimizers.SGD(0.1))
    model.compile(losses=LOSSES, balancer=balancer or balance.fixed(), **kwargs)
    return model


def weights(model) -> list[np.ndarray]:
    return [v.numpy().copy() for v in model.trainable_variables]


@pytest.fixture(scope="module")
def masked_by_sample_weight(data):
    x, y, masks = data
    model = compiled(balance.pcgrad())
    model.fit(x, y, sample_weight=masks, batch_size=32, epochs=1, shuffle=False, verbose=0)
    return weights(model)


def test_a_mask_dict_in_the_batches_equals_sample_weight(data, masked_by_sample_weight):
    x, y, masks = data
    model = compiled(balance.pcgrad())
    model.fit(tf.data.Dataset.from_tensor_slices((x, y, masks)).batch(32), epochs=1, shuffle=False, verbose=0)
    for a, b in zip(masked_by_sample_weight, weights(model)):
        np.testing.assert_array_equal(a, b)


def test_masked_labels_change_nothing_and_missing_tasks_are_masked(data, masked_by_sample_weight):
    x, y, masks = data
    scrambled = {**y, "score": np.where(masks["score"] > 0, y["score"], 1e3).astype("float32")}
    model = compiled(balance.pcgrad())
    model.fit(x, scrambled, sample_weight=masks, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(masked_by_sample_weight, weights(model)):
        np.testing.assert_array_equal(a, b)
    # a task absent from the labels is a task without a labelled example: as an all-zero mask
    absent, zero = compiled(), compiled()
    absent.fit(tf.data.Dataset.from_tensor_slices((x, {"topic": y["topic"]})).batch(32), epochs=1, shuffle=False,
               verbose=0)
    zero.fit(x, y, sample_weight={"topic": masks["topic"], "score": np.zeros(N, "float32")}, batch_size=32,
             epochs=1, shuffle=False, verbose=0)
    for a, b in zip(weights(absent), weights(zero)):
        np.testing.assert_array_equal(a, b)
    untrained = two_heads().get_layer("score").kernel.numpy()
    np.testing.assert_array_equal(absent.task_model.get_layer("score").kernel.numpy(), untrained)


def test_evaluate_reports_masked_means_over_labelled_examples(data):
    x, y, masks = data
    model = compiled(metrics={"topic": ["accuracy"]})
    logs = model.evaluate(x, y, sample_weight=masks, batch_size=N, verbose=0, return_dict=True)
    predicted = model.predict(x, verbose=0)
    error = (predicted["score"][:, 0] - y["score"]) ** 2
    assert logs["score_loss"] == pytest.approx(float((error * masks["score"]).sum() / masks["score"].sum()), rel=1e-5)
    accuracy = float(np.mean(np.argmax(predicted["topic"], 1) == y["topic"]))
    assert logs["topic_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert logs["loss"] == pytest.approx(logs["score_loss"] + logs["topic_loss"], rel=1e-5)
    assert not any(k.endswith("_weight") or k.startswith("cosine_") for k in logs)  # training-only


def test_task_weights_and_cosines_are_logged_and_callbacks_read_task_metrics(tmp_path, data):
    x, y, masks = data
    model = compiled(balance.uncertainty(learning_rate=0.1), diagnostics_every=1)
    # an improvement must be larger than 10: the second epoch cannot make one, so training stops there
    stop = keras.callbacks.EarlyStopping(monitor="val_score_loss", min_delta=10.0, patience=1)
    best = keras.callbacks.ModelCheckpoint(tmp_path / "best.keras", monitor="val_topic_loss", save_best_only=True)
    board = keras.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"))
    history = model.fit(x, y, sample_weight=masks, batch_size=16, epochs=10, validation_data=(x, y, masks),
                        callbacks=[stop, best, board], verbose=0).history
    assert len(history["loss"]) == 2  # stopped by the task's validation loss, not after 10 epochs
    assert history["topic_weight"][0] != 1.0 and history["score_weight"][1] != history["score_weight"][0]
    assert all(-1.0 <= c <= 1.0 for c in history["cosine_topic_score"])
    assert {"val_topic_loss", "val_score_loss", "topic_loss"} <= set(history)
    assert isinstance(keras.models.load_model(tmp_path / "best.keras"), MultiTaskModel)
    tags = {value.tag for path in (tmp_path / "logs" / "train").glob("events.*")
            for event in tf.compat.v1.train.summary_iterator(str(path)) for value in event.summary.value}
    assert {"epoch_topic_weight", "epoch_cosine_topic_score", "epoch_score_loss"} <= tags


@pytest.mark.parametrize("method", ["uncertainty", "dwa"])
def test_a_keras_file_keeps_the_balancer_state_and_training_resumes_alike(tmp_path, data, method):
    x, y, masks = data
    model = compiled(balance.create(method), optimizers=keras.optimizers.Adam(0.01))
    model.fit(x, y, sample_weight=masks, batch_size=16, epochs=1, shuffle=False, verbose=0)
    state = [v.numpy() for v in model.step_state.balance.fields.values()]
    assert any(np.abs(s).max() > 0 for s in state)  # the state moved
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded, MultiTaskModel) and loaded.balancer.name == method
    for a, b in zip(state, [v.numpy() for v in loaded.step_state.balance.fields.values()]):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.step_state.step.numpy()) == 4
    for m in (model, loaded):
        m.fit(x, y, sample_weight=masks, batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(weights(model), weights(loaded)):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_saved_model_serves_every_task(tmp_path, data):
    x = data[0]
    model = compiled()
    model.export(tmp_path / "export", verbose=False)
    serve = tf.saved_model.load(str(tmp_path / "export")).signatures["serving_default"]
    outputs = serve(features=tf.constant(x[:5]))
    assert set(outputs) == {"topic", "score"}
    expected = model.predict(x[:5], verbose=0)
    for task in outputs:
        np.testing.assert_allclose(outputs[task].numpy(), expected[task], atol=1e-6)


def test_staged_training_freezes_the_trunk_for_the_first_epoch(data):
    x, y, masks = data
    model = compiled()
    trunk = model.task_model.get_layer("trunk").kernel
    seen = []
    record = keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(trunk.numpy().copy()))
    head_before = model.task_model.get_layer("topic").kernel.numpy().copy()
    start = trunk.numpy().copy()
    model.fit(x, y, sample_weight=masks, batch_size=16, epochs=2, shuffle=False, verbose=0,
              callbacks=[StagedTraining([{"epochs": 1, "freeze": ["shared"]}, {}]), record])
    np.testing.assert_array_equal(seen[0], start)  # frozen in the first epoch
    assert np.abs(seen[1] - seen[0]).max() > 0  # trained in the second
    assert np.abs(model.task_model.get_layer("topic").kernel.numpy() - head_before).max() > 0
    with pytest.raises(ValueError, match="unknown parameter groups"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[StagedTraining([{"freeze": ["encoder"]}])])


class Subclassed(MultiTaskModel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trunk = keras.layers.Dense(8, activation="relu", name="trunk")
        self.topic = keras.layers.Dense(3, activation="softmax", name="topic")
        self.score = keras.layers.Dense(1, name="score")

    def call(self, inputs, training=None):
        h = self.trunk(inputs)
        return {"topic": self.topic(h), "score": self.score(h)}


def test_a_subclassed_model_names_its_shared_layers(data):
    x, y, masks = data
    model = Subclassed()
    model(x[:2])
    with pytest.raises(ValueError, match="Argument `shared` is needed"):
        model.compile(losses=LOSSES, balancer="pcgrad")
    model.compile(losses=LOSSES, balancer="pcgrad", shared="trunk")  # a prefix of the variables' paths
    assert [v.path.split("/", 1)[1] for v in model.parameter_groups["shared"]] == ["trunk/kernel", "trunk/bias"]
    model.compile(losses=LOSSES, balancer="pcgrad", shared=["trunk"])  # or the layers, by name
    history = model.fit(x, y, sample_weight=masks, batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"][0]) and "cosine_topic_score" in history


def test_bad_arguments_say_what_and_how():
    model = MultiTaskModel(two_heads())
    with pytest.raises(ValueError, match=r"clip_norm=-1"):
        model.compile(losses=LOSSES, clip_norm=-1)
    with pytest.raises(ValueError, match=r"shared='encoder'"):
        model.compile(losses=LOSSES, shared="encoder")
    with pytest.raises(ValueError, match="Unknown balancing method 'pcgard'"):
        model.compile(losses=LOSSES, balancer="pcgard")
    with pytest.raises(ValueError, match=r"losses\['score'\]"):
        model.compile(losses={**LOSSES, "score": 3})
    with pytest.raises(ValueError, match="no optimizer for the groups"):
        model.compile(losses=LOSSES, optimizers={"shared": "adam"})
