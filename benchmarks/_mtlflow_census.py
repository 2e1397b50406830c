"""One mtlflow census run for benchmarks/census.py, in a process of its own (as DeepCTR's runs are).

Trains the YAML config it is given with :func:`mtlflow.run.train` and prints one JSON object:
test AUC per task, the parameter count and, per epoch, the wall-clock and process CPU seconds
of its training steps only — the same window ``_deepctr_census.py`` times around Keras
``fit``'s epochs (validation, data loading and export are outside it).
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def time_epochs(epochs: list) -> None:
    """Wraps the trainer's epoch loop so that each epoch's steps append ``{"wall", "cpu"}``."""
    from mtlflow.train import trainer

    run_epoch = trainer.Trainer._run_epoch

    def timed(self, *args, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        result = run_epoch(self, *args, **kwargs)
        epochs.append({"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu})
        return result

    trainer.Trainer._run_epoch = timed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--label", required=True)
    parser.add_argument("--seed", type=int, required=True)
    args = parser.parse_args()
    from mtlflow.run import train

    epochs: list = []
    time_epochs(epochs)
    import yaml

    config = yaml.safe_load(args.config.read_text())
    run, metrics = train(args.config, args.out, verbose=False, export=False)
    result = {"model": args.label, "seed": args.seed,
              "steps_per_execution": config["training"]["steps_per_execution"],
              "epochs": epochs, "auc": {t: metrics[t]["auc"] for t in ("income", "never_married")},
              "parameters": int(run.model.count_params())}
    if run.gates:
        result["gates"] = run.gates
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
