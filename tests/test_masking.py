"""A missing label is a mask: it changes no gradient of its task, and the row still trains the rest."""

import numpy as np
import pytest
import tensorflow as tf

from mtlflow.config import parse_config
from mtlflow.data.vocabulary import Vocabularies
from mtlflow.model.build import build_model, task_variables
from mtlflow.tasks import create_task
from mtlflow.train.losses import masked_mean, task_losses, weighted_total

CONFIG = {
    "data": {"train": "unused"},
    "inputs": {"text": {"tokenizer": "whitespace"}},
    "encoder": {"type": "bigru", "embedding_dim": 8, "units": 8, "dropout": 0.0},
    "tasks": [
        {"name": "intent", "type": "multiclass"},
        {"name": "slots", "type": "tagging"},
        {"name": "sentiment", "type": "multiclass", "tower": [8]},
    ],
}


@pytest.fixture
def model_and_tasks():
    config = parse_config(CONFIG)
    tasks = {s.name: create_task(s) for s in config.tasks}
    tasks["intent"].labels = ["a", "b", "c"]
    tasks["slots"].labels = ["O", "B-x", "I-x"]
    tasks["sentiment"].labels = ["neg", "neu", "pos"]
    vocab = Vocabularies(tokens=["", "[UNK]"] + [f"t{i}" for i in range(20)])
    return build_model(config, vocab, tasks), tasks


def batch(sentiment_labels, sentiment_mask, slot_mask_row1=1.0):
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 22, size=(4, 5)).astype(np.int32)
    ids[1, 3:] = 0  # padding
    token_mask = (ids > 0).astype(np.float32)
    token_mask[1] *= slot_mask_row1
    inputs = {"token_ids": tf.constant(ids)}
    labels = {
        "intent": tf.constant([0, 1, 2, 1]),
        "slots": tf.constant(rng.integers(0, 3, size=(4, 5)).astype(np.int32)),
        "sentiment": tf.constant(sentiment_labels, tf.int32),
    }
    masks = {
        "intent": tf.ones(4),
        "slots": tf.constant(token_mask),
        "sentiment": tf.constant(sentiment_mask, tf.float32),
    }
    return inputs, labels, masks


def gradients(model, tasks, inputs, labels, masks, task):
    variables = task_variables(model, tasks)[task]
    with tf.GradientTape() as tape:
        losses = task_losses(tasks, model(inputs, training=True), labels, masks)
    return [g.numpy() for g in tape.gradient(losses[task], variables)]


def test_masked_label_changes_no_gradient_of_its_head(model_and_tasks):
    model, tasks = model_and_tasks
    mask = [1.0, 0.0, 1.0, 1.0]  # example 1 has no sentiment label
    g1 = gradients(model, tasks, *batch([0, 0, 2, 1], mask), "sentiment")
    g2 = gradients(model, tasks, *batch([0, 2, 2, 1], mask), "sentiment")  # its placeholder changes
    assert g1 and all(np.abs(a).sum() > 0 for a in g1)
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)


def test_unmasked_label_does_change_the_gradient(model_and_tasks):
    """The control: the same change with the mask on moves the gradient (so the test above can fail)."""
    model, tasks = model_and_tasks
    mask = [1.0, 1.0, 1.0, 1.0]
    g1 = gradients(model, tasks, *batch([0, 0, 2, 1], mask), "sentiment")
    g2 = gradients(model, tasks, *batch([0, 2, 2, 1], mask), "sentiment")
    assert any(np.abs(a - b).max() > 1e-6 for a, b in zip(g1, g2))


def test_masked_tokens_change_no_tagging_gradient(model_and_tasks):
    model, tasks = model_and_tasks
    inputs, labels, masks = batch([0, 0, 0, 0], [1, 1, 1, 1], slot_mask_row1=0.0)
    g1 = gradients(model, tasks, inputs, labels, masks, "slots")
    slots = labels["slots"].numpy()
    slots[1] = (slots[1] + 1) % 3  # rewrite every tag of the masked row
    g2 = gradients(model, tasks, inputs, {**labels, "slots": tf.constant(slots)}, masks, "slots")
    for a, b in zip(g1, g2):
        np.testing.assert_array_equal(a, b)


def test_row_without_sentiment_still_trains_the_other_tasks(model_and_tasks):
    model, tasks = model_and_tasks
    inputs, labels, masks = batch([0, 0, 0, 0], [0, 0, 0, 0])
    with tf.GradientTape() as tape:
        losses = task_losses(tasks, model(inputs, training=True), labels, masks)
        total = weighted_total(losses, {t: 1.0 for t in tasks})
    assert float(losses["sentiment"]) == 0.0
    groups = task_variables(model, tasks)
    grads = dict(zip([v.path for v in model.trainable_variables],
                     tape.gradient(total, model.trainable_variables)))
    assert all(grads[v.path] is None or not np.any(grads[v.path]) for v in groups["sentiment"])
    assert any(np.any(grads[v.path]) for v in groups["intent"])
    assert any(np.any(grads[v.path]) for v in groups["shared"])


def test_masked_mean_formula_and_non_finite_placeholders():
    loss = tf.constant([1.0, np.inf, 3.0, np.nan])
    mask = tf.constant([1.0, 0.0, 1.0, 0.0])
    assert float(masked_mean(loss, mask)) == pytest.approx(2.0)
    assert float(masked_mean(loss, tf.zeros(4))) == 0.0


def test_a_batch_whose_longest_text_has_no_tags_trains(tmp_path):
    """The tags of the longest text are missing: labels must still be as wide as the tokens."""
    import json

    from conftest import synthetic_rows, write_jsonl, write_synthetic_project
    from mtlflow.run import train

    config = write_synthetic_project(tmp_path / "p", n_train=40, epochs=1)
    rows = synthetic_rows(40, seed=1)
    longest = max(range(len(rows)), key=lambda i: len(rows[i]["text"].split()))
    rows[longest]["text"] += " w1 w2 w3 w4 w5 w6"
    rows[longest]["tags"] = None
    write_jsonl(rows, config.parent / "train.jsonl")
    text = config.read_text().replace("batch_size: 32", "batch_size: 64")
    config.write_text(text, "utf-8")
    run, metrics = train(config, tmp_path / "run", verbose=False, export=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history["epochs"][0]["train_loss"]["tags"] > 0


def test_keras_losses_reduce_like_the_trainer(model_and_tasks):
    """compile/fit and the Trainer weigh a task by its labelled examples, not the batch size."""
    import keras

    from mtlflow.api import keras_losses, loss_weights

    model, tasks = model_and_tasks
    inputs, labels, masks = batch([0, 2, 1, 1], [1, 0, 0, 1], slot_mask_row1=0.0)  # half the sentiments masked
    predictions = model(inputs, training=False)
    trainer = task_losses(tasks, predictions, labels, masks)
    losses = keras_losses(tasks)
    model.compile(optimizer="sgd", loss=losses, loss_weights=loss_weights(tasks))
    total = model.compute_loss(inputs, labels, predictions, sample_weight=masks)
    expected = weighted_total(trainer, {n: t.spec.weight for n, t in tasks.items()})
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-5)
    for name in tasks:
        compiled = losses[name](labels[name], predictions[name], sample_weight=masks[name])
        np.testing.assert_allclose(float(compiled), float(trainer[name]), rtol=1e-5, err_msg=name)
    nothing = losses["sentiment"](labels["sentiment"], predictions["sentiment"], sample_weight=tf.zeros(4))
    assert float(nothing) == 0.0
