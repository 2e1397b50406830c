"""One worker of a multi-worker run (or a single-process reference run): trains CONFIG into
OUT with ``mtlflow.run.train`` and writes RESULT.npz (final weights, in model order) and
RESULT.json (role, per-epoch train losses, a hash of the weights).

    TF_CONFIG='{"cluster": ..., "task": ...}' python multi_worker_train.py CONFIG OUT RESULT [DENSE_LIMIT]

``DENSE_LIMIT``: ``replica_gradients.DENSE_ALL_REDUCE_LIMIT`` for this run (0: every embedding
table's gradient travels as the union of the rows the workers touched).
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from mtlflow.run import train
from mtlflow.train.distribution import is_chief


def main() -> None:
    config, out, result = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if len(sys.argv) > 4:
        import mtlflow.train.replica_gradients

        mtlflow.train.replica_gradients.DENSE_ALL_REDUCE_LIMIT = int(sys.argv[4])
    run, _ = train(config, out, verbose=False, export=False)
    weights = [np.asarray(v.numpy()) for v in run.model.weights]
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
    history = json.loads((out / "history.json").read_text()) if (out / "history.json").is_file() else None
    np.savez(result.with_suffix(".npz"), *weights)
    summary = {"chief": is_chief(run.trainer.strategy if run.trainer._distributed else None),
               "replicas": run.trainer.strategy.num_replicas_in_sync, "sha256": digest,
               "steps": int(run.trainer.step.numpy()),
               "train_loss": [e["train_loss"] for e in history["epochs"]] if history else None}
    result.with_suffix(".json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
