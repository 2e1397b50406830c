"""``training.distribution.strategy: multi_worker``: two worker processes on 127.0.0.1 take
the step of one process with the same global batch, and agree on every weight.

The cheap checks (TF_CONFIG parsing, chief selection, config errors) run in this process;
the cluster runs in subprocesses (``tests/scripts/multi_worker_train.py``), each with its
own ``TF_CONFIG`` and free ports picked at run time.
"""

import csv
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from mtlflow.config import parse_config
from mtlflow.errors import ConfigError, TrainingError
from mtlflow.train.distribution import read_tf_config, worker_role

SCRIPT = Path(__file__).parent / "scripts" / "multi_worker_train.py"
TIMEOUT = 240  # seconds a worker may take before the test fails and shows its stderr


# ---- TF_CONFIG and chief selection (no TensorFlow cluster) --------------------------------

def cluster(**jobs):
    return {job: [f"127.0.0.1:{2000 + 10 * i + j}" for j in range(n)] for i, (job, n) in enumerate(jobs.items())}


@pytest.mark.parametrize("jobs, task, chief, workers", [
    ({"worker": 2}, ("worker", 0), True, 2),
    ({"worker": 2}, ("worker", 1), False, 2),
    ({"chief": 1, "worker": 2}, ("chief", 0), True, 3),
    ({"chief": 1, "worker": 2}, ("worker", 0), False, 3),  # with a chief, worker 0 is not it
    ({"worker": 1}, ("worker", 0), True, 1),
])
def test_the_chief_is_the_chief_task_else_worker_zero(jobs, task, chief, workers):
    role = worker_role({"cluster": cluster(**jobs), "task": {"type": task[0], "index": task[1]}})
    assert (role.is_chief, role.num_workers, role.task_type, role.task_index) == (chief, workers, *task)


@pytest.mark.parametrize("environ, message", [
    ({}, "needs the TF_CONFIG environment variable"),
    ({"TF_CONFIG": "{\"cluster\": "}, r"not valid JSON \(line 1, column"),
    ({"TF_CONFIG": "[1]"}, "must be a JSON object"),
    ({"TF_CONFIG": json.dumps({"task": {"type": "worker", "index": 0}})}, 'no "cluster"'),
    ({"TF_CONFIG": json.dumps({"cluster": cluster(worker=2)})}, 'no "task"'),
    ({"TF_CONFIG": json.dumps({"cluster": cluster(worker=2), "task": {"type": "worker", "index": 2}})},
     r"task.index 2 is out of range: cluster.worker has 2 address\(es\), so the index is 0..1"),
    ({"TF_CONFIG": json.dumps({"cluster": cluster(worker=2), "task": {"type": "chief", "index": 0}})},
     "task.type 'chief' is not a job of the cluster"),
    ({"TF_CONFIG": json.dumps({"cluster": {**cluster(worker=2), "ps": ["127.0.0.1:1"]},
                               "task": {"type": "worker", "index": 0}})}, "'ps' are not used"),
    ({"TF_CONFIG": json.dumps({"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}})},
     "cluster.worker must be a non-empty list"),
])
def test_tf_config_errors_say_what_is_wrong_and_how_to_set_it(environ, message):
    with pytest.raises(TrainingError, match=message) as error:
        read_tf_config(environ)
    if not environ:
        assert 'TF_CONFIG=\'{"cluster": {"worker": [' in str(error.value) and '"index": 1' in str(error.value)


def test_a_valid_tf_config_is_returned_parsed():
    config = {"cluster": cluster(chief=1, worker=1), "task": {"type": "worker", "index": 0}}
    assert read_tf_config({"TF_CONFIG": json.dumps(config)}) == config


def test_multi_worker_training_without_tf_config_stops_before_touching_the_run_dir(tmp_path, monkeypatch):
    from mtlflow.run import train

    path = project(tmp_path, "fixed", {"strategy": "multi_worker"})
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(TrainingError, match="multi_worker needs the TF_CONFIG"):
        train(path, tmp_path / "run", verbose=False)
    assert not (tmp_path / "run").exists()


def distribution(section: dict):
    base = yaml.safe_load(CONFIG.format(method="fixed"))
    base["training"]["distribution"] = section
    return parse_config(base, "config.yaml").training.distribution


def test_distribution_config_accepts_multi_worker_and_refuses_parameter_server():
    assert distribution({"strategy": "multi_worker", "communication": "ring"}).communication == "ring"
    with pytest.raises(ConfigError, match="training.distribution: strategy: 'parameter_server' is not supported: "
                                          "its asynchronous"):
        distribution({"strategy": "parameter_server"})
    with pytest.raises(ConfigError, match="applies only to strategy: multi_worker"):
        distribution({"strategy": "mirrored", "communication": "ring"})


# ---- a two-worker cluster on 127.0.0.1 ---------------------------------------------------

CONFIG = """
data: {{train: train.csv, test: test.csv, validation_split: 0.2}}
inputs: {{numeric: [age, income], categorical: [city]}}
encoder: {{mlp: [16], dropout: 0.0}}
sharing: {{type: mmoe, experts: 3, expert_units: [8]}}
tasks:
  - {{name: churn, type: binary}}
  - {{name: spend, type: regression}}
  - {{name: segment, type: multiclass}}
training:
  epochs: 2
  batch_size: 32
  learning_rate: 0.01
  seed: 3
  diagnostics_every: 2
  clip_norm: 1.0
  steps_per_execution: 4
  early_stopping: {{monitor: loss, patience: 5}}
  balance: {{method: {method}}}
export: {{base_dir: null}}
"""
CITIES = ["beijing", "shanghai", "shenzhen", "chengdu"]


def rows(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        age, income, city = rng.uniform(18, 70), rng.lognormvariate(10, 0.5), rng.choice(CITIES)
        out.append({"age": f"{age:.1f}", "income": f"{income:.0f}", "city": city,
                    "churn": int((age < 30) != (city == "chengdu")) if rng.random() > 0.2 else "",  # masked labels
                    "spend": f"{0.002 * income + rng.gauss(0, 0.5):.3f}",
                    "segment": "young" if age < 35 else ("rich" if income > 30000 else "other")})
    return out


def project(tmp_path: Path, method: str, distribution: dict | None) -> Path:
    """A tabular MMoE project; returns its config path. 241 rows: 48 held out for validation,
    193 for training, so an epoch is 6 batches of 32 and one of a single row (which leaves one
    worker's share of that batch empty)."""
    for name, n, seed in (("train", 241, 1), ("test", 64, 2)):
        path = tmp_path / f"{name}.csv"
        if not path.exists():
            data = rows(n, seed)
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.DictWriter(f, fieldnames=list(data[0]))
                writer.writeheader()
                writer.writerows(data)
    config = yaml.safe_load(CONFIG.format(method=method))
    if distribution:
        config["training"]["distribution"] = distribution
    path = tmp_path / f"{method}-{distribution['strategy'] if distribution else 'none'}.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    return path


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def launch(config: Path, out: Path, result: Path, tf_config: dict | None, dense_limit: int | None = None
           ) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    env["TMPDIR"] = str(result.parent / "scratch")  # where a non-chief worker writes (and cleans up)
    (result.parent / "scratch").mkdir(exist_ok=True)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    log = open(result.with_suffix(".log"), "w")
    extra = [] if dense_limit is None else [str(dense_limit)]
    return subprocess.Popen([sys.executable, str(SCRIPT), str(config), str(out), str(result)] + extra,
                            stdout=log, stderr=subprocess.STDOUT, env=env)


def wait_all(processes: dict[str, tuple[subprocess.Popen, Path]]) -> dict[str, dict]:
    """Waits for every process (killing all on the first timeout); fails with their logs."""
    failed = []
    for name, (process, result) in processes.items():
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for other, _ in processes.values():
                other.kill()
            process.wait()
        if process.returncode != 0:
            failed.append(name)
    if failed:
        logs = "\n".join(f"--- {name} (exit {processes[name][0].returncode}):\n"
                         + processes[name][1].with_suffix(".log").read_text()[-3000:] for name in processes)
        pytest.fail(f"{', '.join(failed)} failed or hung (timeout {TIMEOUT}s):\n{logs}")
    return {name: {"summary": json.loads(result.with_suffix(".json").read_text()),
                   "weights": list(np.load(result.with_suffix(".npz")).values())}
            for name, (_, result) in processes.items()}


@pytest.mark.parametrize("method", ["fixed", "pcgrad", pytest.param("mgda", marks=pytest.mark.slow)])
def test_two_workers_take_the_single_worker_step_and_agree(tmp_path, method):
    """With ``fixed`` the city table's gradient travels as the union of the rows the workers
    touched (``DENSE_ALL_REDUCE_LIMIT`` 0, as a large table's would); with the others dense."""
    ports = free_ports(2)
    dense_limit = 0 if method == "fixed" else None
    addresses = [f"127.0.0.1:{p}" for p in ports]
    multi = project(tmp_path, method, {"strategy": "multi_worker", "communication": "ring"})
    single = project(tmp_path, method, None)
    processes = {
        f"worker {i}": (launch(multi, tmp_path / f"run{i}", tmp_path / f"worker{i}",
                               {"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}},
                               dense_limit),
                        tmp_path / f"worker{i}")
        for i in range(2)
    }
    processes["single"] = (launch(single, tmp_path / "single", tmp_path / "single", None), tmp_path / "single")
    results = wait_all(processes)
    chief, other, reference = (results[k] for k in ("worker 0", "worker 1", "single"))

    assert chief["summary"]["chief"] and not other["summary"]["chief"]
    assert chief["summary"]["replicas"] == 2 and reference["summary"]["replicas"] == 1
    assert chief["summary"]["steps"] == other["summary"]["steps"] == reference["summary"]["steps"] == 14
    # both workers end with the very same weights ...
    assert chief["summary"]["sha256"] == other["summary"]["sha256"]
    # ... which are those of one process with the same global batch (up to float summation order)
    scale = max(float(np.abs(w).max()) for w in reference["weights"])
    difference = max(float(np.abs(a - b).max()) for a, b in zip(chief["weights"], reference["weights"]))
    assert difference < 1e-4 * max(scale, 1.0), (difference, scale)
    for mine, theirs in zip(chief["summary"]["train_loss"], reference["summary"]["train_loss"]):
        assert mine == pytest.approx(theirs, rel=1e-4, abs=1e-5)
    # training moved the weights (the comparison is not between two untouched models)
    first = json.loads((tmp_path / "run0" / "history.json").read_text())["epochs"]
    assert first[1]["train_loss"]["segment"] < first[0]["train_loss"]["segment"]
    # only the chief wrote a run directory
    assert (tmp_path / "run0" / "checkpoints" / "best").is_dir() and (tmp_path / "run0" / "metrics.json").is_file()
    assert not (tmp_path / "run1").exists()
    assert not list((tmp_path / "scratch").glob("mtlflow-worker-*"))  # the other worker's scratch copy is gone


def cluster_of_two(tmp_path: Path) -> list[dict]:
    addresses = [f"127.0.0.1:{p}" for p in free_ports(2)]
    return [{"cluster": {"worker": addresses}, "task": {"type": "worker", "index": i}} for i in range(2)]


@pytest.mark.slow
def test_a_lost_worker_stops_the_others_with_an_error_instead_of_a_hang(tmp_path):
    config = yaml.safe_load(project(tmp_path, "fixed", {"strategy": "multi_worker"}).read_text())
    config["training"].update(epochs=1000, early_stopping=None)
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    chief, other = (launch(path, tmp_path / f"run{i}", tmp_path / f"worker{i}", tf_config)
                    for i, tf_config in enumerate(cluster_of_two(tmp_path)))
    try:
        for _ in range(TIMEOUT):  # training has begun once the chief has saved an epoch
            if (tmp_path / "run0" / "checkpoints" / "last").is_dir() or chief.poll() is not None:
                break
            time.sleep(1)
        assert chief.poll() is None, (tmp_path / "worker0.log").read_text()[-3000:]
        other.kill()
        chief.wait(timeout=60)
    finally:
        for process in (chief, other):
            if process.poll() is None:
                process.kill()
    log = (tmp_path / "worker0.log").read_text()
    assert chief.returncode != 0
    assert "lost another worker" in log and "--resume" in log, log[-3000:]
