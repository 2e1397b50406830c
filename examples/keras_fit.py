# %% [markdown]
# # Multi-task `fit()` with mtlflow's balancers, on your own Keras model
#
# A Keras model with one output per task, trained by `fit()` — with a balancer choosing the
# task weights (or combining the task gradients) at every step, masked labels, per-group
# optimizers, staged freezing, and the task weights and gradient cosines logged as metrics.
# Runs in under a minute on a CPU, on generated data:
#
#     python examples/keras_fit.py

# %%
import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import mtlflow.balance  # noqa: E402
from mtlflow.keras import MultiTaskModel, StagedTraining  # noqa: E402

# %% [markdown]
# ## Data: sentence vectors with an intent (10 classes) and a sentiment (3 classes)
#
# Each label is the argmax of a fixed random linear map of the vector, so there is a signal
# to learn. About 30% of the examples have no sentiment label: their sentiment mask is 0.

# %%
DIM, N_TRAIN, N_TEST = 64, 4096, 1024
rng = np.random.default_rng(0)
teacher = {"intent": rng.standard_normal((DIM, 10)), "sentiment": rng.standard_normal((DIM, 3))}


def make(n):
    x = rng.standard_normal((n, DIM)).astype("float32")
    y = {task: np.argmax(x @ w, axis=1).astype("int32") for task, w in teacher.items()}
    labelled = {"intent": np.ones(n, "float32"), "sentiment": (rng.random(n) > 0.3).astype("float32")}
    return x, y, labelled


x, y, labelled = make(N_TRAIN)
x_test, y_test, labelled_test = make(N_TEST)

# %% [markdown]
# ## The classic two-head model
#
# A shared Dense trunk and one softmax head per task. Any model whose outputs are a dict
# `{task: output}` works: functional (the tasks share the layers both outputs depend on,
# found from the graph) or subclassed (then name them: `compile(shared=["trunk"])`).


# %%
def two_heads(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((DIM,), name="vector")
    h = keras.layers.Dense(128, activation="relu", name="trunk_1")(inputs)
    h = keras.layers.Dense(64, activation="relu", name="trunk_2")(h)
    return keras.Model(inputs, {"intent": keras.layers.Dense(10, activation="softmax", name="intent")(h),
                                "sentiment": keras.layers.Dense(3, activation="softmax", name="sentiment")(h)})


LOSSES = {"intent": "sparse_categorical_crossentropy", "sentiment": "sparse_categorical_crossentropy"}
METRICS = {"intent": ["accuracy"], "sentiment": ["accuracy"]}


def report(name, model):
    logs = model.evaluate(x_test, y_test, sample_weight=labelled_test, verbose=0, return_dict=True)
    print(f"{name:<28} intent accuracy {logs['intent_accuracy']:.3f}   sentiment accuracy "
          f"{logs['sentiment_accuracy']:.3f}")


# %% [markdown]
# ## 1. Uncertainty weighting (Kendall et al., CVPR 2018)
#
# The balancer learns `s_t = log σ_t²` and weighs task `t` by `exp(-s_t)`. `sample_weight`
# masks the missing sentiment labels; each task's loss is its mean over its labelled examples.

# %%
model = MultiTaskModel(two_heads())
model.compile(losses=LOSSES, balancer=mtlflow.balance.uncertainty(), optimizers=keras.optimizers.Adam(1e-3),
              clip_norm=5.0, metrics=METRICS)
history = model.fit(x, y, sample_weight=labelled, batch_size=128, epochs=6, verbose=0)
print("task weights per epoch:", {t: [round(w, 3) for w in history.history[f"{t}_weight"]]
                                  for t in ("intent", "sentiment")})
report("uncertainty weighting", model)

# %% [markdown]
# ## 2. PCGrad (Yu et al., NeurIPS 2020), early stopping on a task's validation loss
#
# Gradient surgery on the shared trunk: where two task gradients conflict, each is projected
# onto the other's normal plane. The gradients' cosine is logged every step
# (`cosine_intent_sentiment`); `EarlyStopping` watches the sentiment task alone.

# %%
model = MultiTaskModel(two_heads())
model.compile(losses=LOSSES, balancer=mtlflow.balance.pcgrad(), optimizers=keras.optimizers.Adam(1e-3),
              clip_norm=5.0, metrics=METRICS)
stop = keras.callbacks.EarlyStopping(monitor="val_sentiment_loss", patience=2, restore_best_weights=True)
history = model.fit(x, y, sample_weight=labelled, batch_size=128, epochs=12, verbose=0, callbacks=[stop],
                    validation_data=(x_test, y_test, labelled_test))
print(f"{len(history.history['loss'])} epochs; gradient cosine per epoch:",
      [round(c, 3) for c in history.history["cosine_intent_sentiment"]])
report("PCGrad", model)

# %% [markdown]
# ## 3. Per-group optimizers and staged training
#
# The heads first, with the trunk frozen; then everything, the trunk at a third of its rate.
# Groups are `"shared"` and the task names.

# %%
model = MultiTaskModel(two_heads())
model.compile(losses=LOSSES, balancer="fixed", metrics=METRICS,
              optimizers={"shared": keras.optimizers.Adam(3e-3), "default": keras.optimizers.Adam(1e-3)})
stages = StagedTraining([{"epochs": 1, "freeze": ["shared"]}, {"learning_rate_multipliers": {"shared": 0.3}}])
model.fit(x, y, sample_weight=labelled, batch_size=128, epochs=6, verbose=0, callbacks=[stages])
report("staged, per-group optimizers", model)

# %% [markdown]
# ## 4. Save, load, resume; export a SavedModel that serves every task
#
# The `.keras` file keeps the balancer's state (here PCGrad's random stream and the step
# counter) and the optimizers'; `export()` writes a SavedModel for TF Serving.

# %%
with tempfile.TemporaryDirectory() as folder:
    path = os.path.join(folder, "two_heads.keras")
    model = MultiTaskModel(two_heads())
    model.compile(losses=LOSSES, balancer=mtlflow.balance.pcgrad(), metrics=METRICS)
    model.fit(x, y, sample_weight=labelled, batch_size=128, epochs=3, verbose=0)
    model.save(path)
    restored = keras.models.load_model(path)
    print("steps taken before saving:", int(restored.step_state.step.numpy()))
    restored.fit(x, y, sample_weight=labelled, batch_size=128, epochs=1, verbose=0)
    report("PCGrad, saved and resumed", restored)

    restored.export(os.path.join(folder, "export"), verbose=False)
    serve = tf.saved_model.load(os.path.join(folder, "export")).signatures["serving_default"]
    outputs = serve(vector=tf.constant(x_test[:3]))
    print("SavedModel outputs:", {task: tuple(outputs[task].shape) for task in sorted(outputs)})
