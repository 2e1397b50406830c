"""DeepCTR's MMOE / PLE on the census splits that benchmarks/census.py writes (run in DeepCTR's venv).

Prints one JSON object: test AUC per task, the parameter count and, per epoch, the wall-clock
and process CPU seconds from Keras ``on_epoch_begin`` to ``on_epoch_end`` (the training steps;
reading the CSV, building the features and ``fit``'s data adapter are before it). The same
features as mtlflow's run: standardised numeric columns, one embedding per categorical
column (ids from the training split; unseen values → 0). ``--steps-per-execution`` is passed
to ``compile`` (DeepCTR's default is Keras's, 1).
"""

import argparse
import csv
import json
import sys
import time
import types

import numpy as np


def offline_deepctr():
    """Imports deepctr without its version check.

    ``import deepctr`` (0.9.4) starts a thread that GETs the package's PyPI JSON page to warn
    about newer versions. Here ``requests.get`` answers it at once with a non-200 status, so
    the thread makes no connection, prints nothing and ends before training starts.
    """
    import requests

    real_get = requests.get

    def offline_get(url, *args, **kwargs):
        if "deepctr" not in str(url):
            return real_get(url, *args, **kwargs)
        return types.SimpleNamespace(status_code=0, text="")

    requests.get = offline_get
    import deepctr.models  # noqa: F401


def read(path):
    with open(path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return {c: np.array([r[c] for r in rows]) for c in rows[0]}


def auc(y, p):
    order = np.argsort(p, kind="mergesort")
    ranks = np.empty(len(p))
    sorted_p = p[order]
    i = 0
    while i < len(p):  # average ranks of ties
        j = i
        while j + 1 < len(p) and sorted_p[j + 1] == sorted_p[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    pos = y == 1
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model", choices=["mmoe", "ple"], default="mmoe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--embedding-dim", type=int, default=4)
    parser.add_argument("--experts", type=int, default=8)
    parser.add_argument("--expert-units", type=int, default=16)
    parser.add_argument("--tower", type=int, default=8)
    parser.add_argument("--numeric", required=True)
    parser.add_argument("--categorical", required=True)
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--label", default=None, help="the run's name in the output (default deepctr_MODEL)")
    args = parser.parse_args()
    offline_deepctr()
    import tensorflow as tf
    import keras
    from deepctr.feature_column import DenseFeat, SparseFeat
    from deepctr.models import MMOE, PLE

    keras.utils.set_random_seed(args.seed)
    numeric, categorical = args.numeric.split(","), args.categorical.split(",")
    splits = {name: read(f"{args.data_dir}/{name}.csv") for name in ("train", "test")}
    train = splits["train"]
    features = {}
    columns = []
    for c in numeric:
        values = train[c].astype(np.float32)
        mean, std = values.mean(), values.std() or 1.0
        for name, split in splits.items():
            features.setdefault(name, {})[c] = (split[c].astype(np.float32) - mean) / std
        columns.append(DenseFeat(c, 1))
    for c in categorical:
        index = {v: i + 1 for i, v in enumerate(sorted(set(train[c])))}
        for name, split in splits.items():
            features.setdefault(name, {})[c] = np.array([index.get(v, 0) for v in split[c]], np.int32)
        columns.append(SparseFeat(c, len(index) + 1, embedding_dim=args.embedding_dim))
    tasks = ("income", "never_married")
    common = dict(task_types=("binary", "binary"), task_names=tasks, tower_dnn_hidden_units=(args.tower,), seed=args.seed)
    if args.model == "mmoe":
        model = MMOE(columns, num_experts=args.experts, expert_dnn_hidden_units=(args.expert_units,),
                     gate_dnn_hidden_units=(), **common)
    else:
        model = PLE(columns, shared_expert_num=2, specific_expert_num=2, num_levels=2,
                    expert_dnn_hidden_units=(args.expert_units,), gate_dnn_hidden_units=(), **common)
    model.compile(keras.optimizers.Adam(args.learning_rate), loss=["binary_crossentropy"] * 2,
                  steps_per_execution=args.steps_per_execution)
    labels = [train[t].astype(np.float32) for t in tasks]
    x_train = {k: v for k, v in features["train"].items()}
    epochs = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.wall, self.cpu = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            epochs.append({"wall": time.perf_counter() - self.wall, "cpu": time.process_time() - self.cpu})

    model.fit(x_train, labels, batch_size=args.batch_size, epochs=args.epochs, verbose=0, shuffle=True,
              callbacks=[EpochClock()])
    predictions = model.predict(features["test"], batch_size=4096, verbose=0)
    result = {
        "model": args.label or f"deepctr_{args.model}", "seed": args.seed,
        "steps_per_execution": args.steps_per_execution, "epochs": epochs,
        "auc": {t: auc(splits["test"][t].astype(int), np.asarray(p).reshape(-1)) for t, p in zip(tasks, predictions)},
        "parameters": int(model.count_params()),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
