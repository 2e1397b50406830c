"""Evaluation with fixed predictions: an intent + slots "model" that returns given answers.

``evaluate_fixed`` fits the tasks on ``train`` rows, encodes ``test`` rows as the project
does, and runs the :class:`~mtlflow.evaluate.evaluator.Evaluator` over a model whose outputs
are the given intents and tag sequences, so a test can check metrics computed by hand.
"""

import json

import numpy as np
import tensorflow as tf

from mtlflow.config import parse_config
from mtlflow.data.dataset import SplitData
from mtlflow.data.encode import encode_table, fit_tasks
from mtlflow.data.readers import read_table
from mtlflow.evaluate.evaluator import Evaluator
from mtlflow.tasks import create_task


class FixedPredictions:
    """Stands in for the preprocessor: the model inputs *are* the predictions (one-hot-ish)."""

    def __init__(self, tasks, intents: list[str], tags: list[list[str]]):
        self.tasks, self.intents, self.tags = tasks, intents, tags

    def transform(self, features):
        intent, slots = self.tasks["intent"], self.tasks["slots"]
        intent_probs = np.eye(len(intent.labels), dtype=np.float32)[[intent.labels.index(p) for p in self.intents]]
        tag_ids = [[slots.labels.index(t) for t in row] for row in self.tags]
        slot_probs = np.eye(len(slots.labels), dtype=np.float32)[tag_ids] * 0.9 + 0.1 / len(slots.labels)
        width = slot_probs.shape[1]
        lengths = [min(len(str(text).split()), width) for text in features["text"]]
        token_ids = np.array([[1] * n + [0] * (width - n) for n in lengths], np.int32)
        return {"token_ids": tf.constant(token_ids), "intent": tf.constant(intent_probs),
                "slots": tf.constant(slot_probs)}


def evaluate_fixed(tmp_path, train: list[dict], test: list[dict], intents: list[str], tags: list[list[str]],
                   data: dict | None = None, text: dict | None = None):
    """``(encoded test split, metrics)`` of the fixed predictions on ``test`` (batches of 2).

    ``data`` / ``text``: extra ``data:`` and ``inputs.text:`` settings (the whitespace
    tokenizer is set); predicted ``tags`` rows all have the model's width.
    """
    config = parse_config({
        "data": {"train": "x", **(data or {})},
        "inputs": {"text": {"tokenizer": "whitespace", **(text or {})}},
        "tasks": [{"name": "intent", "type": "multiclass"},
                  {"name": "slots", "type": "tagging", "column": "tags", "constrained": False}],
    })
    tasks = {s.name: create_task(s) for s in config.tasks}
    for name, rows in (("train", train), ("test", test)):
        (tmp_path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    fit_tasks(read_table(tmp_path / "train.jsonl"), config, tasks)
    split = encode_table(read_table(tmp_path / "test.jsonl"), config, tasks, "test")
    split_data = SplitData(split, FixedPredictions(tasks, intents, tags), tasks)
    model = lambda inputs, training=False: {"intent": inputs["intent"], "slots": inputs["slots"]}  # noqa: E731
    metrics = Evaluator(model, tasks, {"intent": 1.0, "slots": 1.0}).evaluate(split_data.batches(2), split_data.unseen)
    return split, metrics
