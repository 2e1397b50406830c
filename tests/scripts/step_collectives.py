"""Counts the cross-replica reductions one ordinary training step makes under a
``MirroredStrategy`` over two logical CPU devices; prints them as JSON. Run in its own
process (the CPU must be split before TensorFlow starts):
python step_collectives.py PROJECT_CONFIG [SPARSE].

With ``SPARSE`` (any second argument) every embedding gradient is all-reduced as it comes,
sparse, whatever its table's size (``DENSE_ALL_REDUCE_LIMIT`` set to 0).

Every all-reduce of a replica context is recorded while the step is traced
(TensorFlow builds one collective per call, whatever the strategy's implementation), with
the shapes of the tensors it carries.
"""

import json
import sys
from pathlib import Path

import tensorflow as tf

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2)

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

CALLS: list[list[dict]] = []


def describe(value) -> dict:
    if isinstance(value, tf.IndexedSlices):
        return {"sparse": True, "shape": value.values.shape.as_list()}
    return {"sparse": False, "shape": value.shape.as_list()}


def recording(original):
    """``ReplicaContext.all_reduce`` that first notes what it carries (replica 0's calls only:
    every replica traces the same step)."""
    def all_reduce(self, reduce_op, value, *args, **kwargs):
        if getattr(self, "_replica_id_in_sync_group", 0) == 0:
            CALLS.append([describe(t) for t in tf.nest.flatten(value)])
        return original(self, reduce_op, value, *args, **kwargs)
    return all_reduce


def main():
    path = Path(sys.argv[1])
    if len(sys.argv) > 2:
        import mtlflow.train.replica_gradients

        mtlflow.train.replica_gradients.DENSE_ALL_REDUCE_LIMIT = 0
    config = absolute_config(load_config(path), path.parent)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(config.data.train)
    fit_tasks(table, config, tasks)
    split = encode_table(table, config, tasks, "train")
    vocab = fit_vocabularies(split.features, config.inputs)
    with strategy.scope():
        model = build_model(config, vocab, tasks)
    trainer = Trainer(model, tasks, config.training, strategy=strategy)
    batches = SplitData(split, Preprocessor(config.inputs, vocab), tasks).batches(32, shuffle_seed=0)
    iterator = iter(strategy.experimental_distribute_dataset(batches.repeat()))
    context = tf.distribute.ReplicaContext
    context.all_reduce = recording(context.all_reduce)
    trainer.train_function(iterator, 1)  # step 0: a diagnostics step when diagnostics_every is set
    first = list(CALLS)
    CALLS.clear()
    trainer.train_function(iterator, 1)  # step 1: an ordinary step
    ordinary = list(CALLS)
    print(json.dumps({"first": first, "ordinary": ordinary, "tasks": trainer.trained,
                      "variables": [v.shape.as_list() for v in model.trainable_variables],
                      "shared_size": sum(int(v.shape.num_elements()) for v in trainer.shared_variables)}))


if __name__ == "__main__":
    main()
