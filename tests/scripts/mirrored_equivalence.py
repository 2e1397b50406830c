"""Trains a few steps on one device and on two logical CPU devices with the same global
batch; prints the largest weight difference as JSON. Run in its own process (the CPU must
be split before TensorFlow starts): python mirrored_equivalence.py PROJECT_DIR METHOD."""

import json
import sys

import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

import numpy as np  # noqa: E402

from mtlflow.config import load_config  # noqa: E402
from mtlflow.data.dataset import SplitData  # noqa: E402
from mtlflow.data.encode import encode_table, fit_tasks  # noqa: E402
from mtlflow.data.readers import read_table  # noqa: E402
from mtlflow.data.vocabulary import fit_vocabularies  # noqa: E402
from mtlflow.model.build import build_model  # noqa: E402
from mtlflow.model.preprocessor import Preprocessor  # noqa: E402
from mtlflow.run import absolute_config  # noqa: E402
from mtlflow.tasks import create_task  # noqa: E402
from mtlflow.train.trainer import Trainer  # noqa: E402
from mtlflow.train.weight_averaging import averaged_weights  # noqa: E402


def weights_after_steps(config, strategy, steps: int):
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(config.data.train)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    vocab = fit_vocabularies(split.features, config.inputs)
    if strategy is None:
        model = build_model(config, vocab, tasks)
    else:
        with strategy.scope():
            model = build_model(config, vocab, tasks)
    trainer = Trainer(model, tasks, config.training, strategy=strategy)
    batches = SplitData(split, Preprocessor(config.inputs, vocab), tasks).batches(32, shuffle_seed=0)
    if strategy is not None:
        batches = strategy.experimental_distribute_dataset(batches)
    iterator = iter(batches)
    losses = []
    for _ in range(steps):
        out, _ = trainer.train_function(iterator)
        losses.append({k: float(v) for k, v in out.items()})
    with averaged_weights(trainer.optimizers.pairs()):  # the raw weights without training.ema_momentum
        averages = [np.array(v.numpy()) for v in model.trainable_variables]
    return [np.array(v.numpy()) for v in model.trainable_variables], losses, averages


def main():
    path, method = sys.argv[1], sys.argv[2]
    config = absolute_config(load_config(path), __import__("pathlib").Path(path).parent)
    training = config.training.model_copy(update={"balance": config.training.balance.model_copy(update={"method": method})})
    config = config.model_copy(update={"training": training})
    one, losses_one, averages_one = weights_after_steps(config, None, 3)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    two, losses_two, averages_two = weights_after_steps(config, strategy, 3)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one, two))
    average_diff = max(float(np.abs(a - b).max()) for a, b in zip(averages_one, averages_two))
    averaged_away = max(float(np.abs(a - b).max()) for a, b in zip(averages_one, one))
    moved = max(float(np.abs(a).max()) for a in one)
    print(json.dumps({"max_weight_difference": diff, "replicas": strategy.num_replicas_in_sync,
                      "losses_one": losses_one, "losses_two": losses_two, "scale": moved,
                      "max_average_difference": average_diff, "average_from_raw": averaged_away}))


if __name__ == "__main__":
    main()
