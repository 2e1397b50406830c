"""``MultiTaskModel.fit`` for a few steps on one device and on two logical CPU devices
(``MirroredStrategy``) with the same global batches; prints the largest weight difference as
JSON. Run in its own process (the CPU must be split before TensorFlow starts):
python keras_mirrored_equivalence.py METHOD."""

import json
import sys

import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import mtlflow.balance as balance  # noqa: E402
from mtlflow.keras import MultiTaskModel  # noqa: E402

N, DIM = 96, 6


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, DIM)).astype("float32")
    y = {"topic": np.digitize(x[:, 0], [-0.4, 0.4]).astype("int32"), "score": (x[:, 1] - x[:, 2]).astype("float32")}
    masks = {"topic": (rng.random(N) > 0.2).astype("float32"), "score": (rng.random(N) > 0.5).astype("float32")}
    return tf.data.Dataset.from_tensor_slices(({"features": x}, y, masks)).batch(32)


def trained(method: str, strategy=None):
    scope = strategy.scope() if strategy is not None else tf.name_scope("one_device")
    with scope:
        keras.utils.set_random_seed(0)
        inputs = keras.Input((DIM,), name="features")
        h = keras.layers.Dense(16, activation="relu", name="trunk")(inputs)
        inner = keras.Model({"features": inputs}, {"topic": keras.layers.Dense(3, activation="softmax", name="topic")(h),
                                                   "score": keras.layers.Dense(1, name="score")(h)})
        model = MultiTaskModel(inner)
        model.compile(losses={"topic": "sparse_categorical_crossentropy", "score": "mse"},
                      balancer=balance.create(method), optimizers=keras.optimizers.SGD(0.1, momentum=0.9),
                      clip_norm=1.0, gradient_centralization=True, diagnostics_every=2)
    history = model.fit(data(), epochs=1, verbose=0).history
    return [np.array(v.numpy()) for v in model.trainable_variables], history


def main():
    method = sys.argv[1]
    one, history_one = trained(method)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two, history_two = trained(method, strategy)
    print(json.dumps({"replicas": strategy.num_replicas_in_sync,
                      "max_weight_difference": max(float(np.abs(a - b).max()) for a, b in zip(one, two)),
                      "moved": max(float(np.abs(a).max()) for a in one), "history_one": history_one,
                      "history_two": history_two}))


if __name__ == "__main__":
    main()
