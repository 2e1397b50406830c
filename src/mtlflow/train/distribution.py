"""The ``tf.distribute`` strategy a training config asks for, and the multi-worker plumbing.

``mirrored`` replicates the model on ``devices`` local devices (all GPUs by default; on a
CPU-only machine, logical CPU devices, which must be configured before TensorFlow starts
running ops — ``mtlflow train`` does it first thing). Every replica takes its slice of the
global batch, and the trainer sums per-replica contributions to the *global* masked mean
loss, so one device and N devices with the same global batch take the same step.

``multi_worker`` is the same synchronous step across processes
(``tf.distribute.MultiWorkerMirroredStrategy``): every process runs the same program with
a ``TF_CONFIG`` environment variable naming the cluster and its own place in it::

    TF_CONFIG='{"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                "task": {"type": "worker", "index": 0}}'

The global batch (``training.batch_size``) is split over all replicas of all workers; each
worker builds the same global batches from the whole in-memory split and keeps its
replicas' slices of each (:func:`mtlflow.train.sharding.distribute_batches`). Per-task gradients and the masked-mean denominators are all-reduced, so
gradient-level balancers see the gradients of the whole global batch and every worker
takes the identical step. Only the *chief* — task type ``chief``, or ``worker`` 0 when the
cluster has no chief — writes the run directory; the others run the same code (every
collective needs every worker) against a temporary directory that is deleted afterwards
(:func:`worker_directory`). Reference: "Multi-worker training with a custom training
loop", TensorFlow guide.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import tensorflow as tf

from mtlflow.config import DistributionConfig
from mtlflow.errors import TrainingError

TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host0:2222", "host1:2222"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')
_HOW = (f"set it in every worker's environment, e.g. {TF_CONFIG_EXAMPLE} on the first machine and "
        '"index": 1 on the second (README, "Distributed training")')


@dataclass(frozen=True)
class WorkerRole:
    """This process's place in a multi-worker cluster (from ``TF_CONFIG``)."""

    task_type: str
    task_index: int
    num_workers: int
    is_chief: bool


def worker_role(tf_config: Mapping) -> WorkerRole:
    """Checks a parsed ``TF_CONFIG`` and says who this process is.

    The chief is the ``chief`` task, or ``worker`` 0 when the cluster has no ``chief`` job;
    workers are the ``chief`` and ``worker`` tasks (``ps`` and ``evaluator`` tasks take no
    part in a synchronous step and are refused).

    Example::

        worker_role({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})
        # WorkerRole(task_type='worker', task_index=1, num_workers=2, is_chief=False)
    """
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, Mapping) or not cluster:
        raise TrainingError(f'TF_CONFIG: no "cluster" mapping of job name to addresses; {_HOW}')
    unsupported = sorted(set(cluster) - {"chief", "worker"})
    if unsupported:
        raise TrainingError(
            f"TF_CONFIG: cluster job(s) {', '.join(map(repr, unsupported))} are not used by "
            "training.distribution.strategy: multi_worker (a synchronous all-reduce over \"chief\" and "
            "\"worker\" tasks; parameter servers are not supported, see README \"Distributed training\")")
    for job, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) for a in addresses):
            raise TrainingError(f'TF_CONFIG: cluster.{job} must be a non-empty list of "host:port" strings; '
                                f"got {addresses!r}")
    if len(cluster.get("chief", [])) > 1:
        raise TrainingError(f"TF_CONFIG: cluster.chief lists {len(cluster['chief'])} addresses; a cluster has "
                            "at most one chief (put the others under \"worker\")")
    if not isinstance(task, Mapping) or "type" not in task or "index" not in task:
        raise TrainingError(f'TF_CONFIG: no "task": {{"type": ..., "index": ...}} saying which cluster entry this '
                            f"process is; {_HOW}")
    task_type, index = task["type"], task["index"]
    if task_type not in cluster:
        raise TrainingError(f"TF_CONFIG: task.type {task_type!r} is not a job of the cluster "
                            f"({', '.join(sorted(cluster))})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[task_type]):
        raise TrainingError(f"TF_CONFIG: task.index {index!r} is out of range: cluster.{task_type} has "
                            f"{len(cluster[task_type])} address(es), so the index is 0..{len(cluster[task_type]) - 1}")
    is_chief = task_type == "chief" or ("chief" not in cluster and index == 0)
    return WorkerRole(task_type, index, len(cluster.get("chief", [])) + len(cluster.get("worker", [])), is_chief)


def read_tf_config(environ: Mapping[str, str] | None = None) -> dict:
    """The parsed ``TF_CONFIG`` environment variable; an error that says how to set it."""
    text = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not text:
        raise TrainingError("training.distribution.strategy: multi_worker needs the TF_CONFIG environment variable "
                            f"(the cluster's addresses and this process's place in it); {_HOW}")
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"TF_CONFIG is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                            f"expected e.g. {TF_CONFIG_EXAMPLE}") from None
    if not isinstance(parsed, dict):
        raise TrainingError(f"TF_CONFIG must be a JSON object; got {type(parsed).__name__}; expected e.g. "
                            f"{TF_CONFIG_EXAMPLE}")
    worker_role(parsed)  # checked before TensorFlow tries to connect
    return parsed


def make_strategy(distribution: DistributionConfig) -> tf.distribute.Strategy | None:
    """None for ``strategy: none``, else the configured strategy (call before any TF op)."""
    if distribution.strategy == "none":
        return None
    if distribution.strategy == "multi_worker":
        return _multi_worker_strategy(distribution)
    # list_physical_devices, not list_logical_devices: the latter starts TensorFlow's
    # runtime, after which the CPU can no longer be split into logical devices
    if tf.config.list_physical_devices("GPU"):
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus[: distribution.devices or len(gpus)]]
        return tf.distribute.MirroredStrategy(devices)
    wanted = distribution.devices or 2
    ensure_cpu_devices(wanted)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:wanted]]
    return tf.distribute.MirroredStrategy(devices)


def _multi_worker_strategy(distribution: DistributionConfig) -> tf.distribute.Strategy:
    read_tf_config()
    gpus = tf.config.list_physical_devices("GPU")
    if distribution.devices is not None:
        if distribution.devices > max(len(gpus), 1):
            raise TrainingError(
                f"training.distribution.devices: {distribution.devices} devices per worker asked for, and this "
                f"worker has {len(gpus)} GPU(s); on CPU a worker is one replica (leave devices unset)")
        if gpus:
            tf.config.set_visible_devices(gpus[: distribution.devices], "GPU")
    implementation = tf.distribute.experimental.CommunicationImplementation[distribution.communication.upper()]
    options = tf.distribute.experimental.CommunicationOptions(implementation=implementation)
    try:
        return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except RuntimeError as exc:
        if "startup" not in str(exc):
            raise
        raise TrainingError("training.distribution.strategy: multi_worker must be set up before TensorFlow runs "
                            f"any op ({exc}); call mtlflow.run.train (or make_strategy) first thing in the process"
                            ) from None


def is_multi_worker(strategy: tf.distribute.Strategy | None) -> bool:
    """True for a strategy spanning more than one process."""
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and strategy.extended._num_workers > 1


def is_chief(strategy: tf.distribute.Strategy | None) -> bool:
    """Whether this process writes the run directory (always, outside multi-worker training)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    return bool(strategy.extended.should_checkpoint)


@contextlib.contextmanager
def worker_directory(run_dir: Path, strategy: tf.distribute.Strategy | None, *, resume: bool = False) -> Iterator[Path]:
    """Where this process writes: ``run_dir`` on the chief, elsewhere a fresh temporary
    directory, deleted on exit (even on error).

    A non-chief worker still saves checkpoints (to its own directory) so that it restores
    the same best weights as the chief. With ``resume`` it starts from a copy of the
    chief's ``run_dir/checkpoints``, which must be on storage every worker can read.
    """
    if is_chief(strategy):
        yield run_dir
        return
    scratch = Path(tempfile.mkdtemp(prefix="mtlflow-worker-"))
    try:
        if resume:
            source = run_dir / "checkpoints"
            if not source.is_dir():
                raise TrainingError(
                    f"{source}: --resume on a non-chief worker reads the chief's checkpoints, and this worker "
                    "cannot see them; put --out on storage every worker mounts at the same path")
            shutil.copytree(source, scratch / "checkpoints")
            if (run_dir / "history.json").is_file():
                shutil.copy2(run_dir / "history.json", scratch / "history.json")
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@contextlib.contextmanager
def peer_failures(strategy: tf.distribute.Strategy | None) -> Iterator[None]:
    """Turns a lost worker into a :class:`TrainingError` that says how to go on.

    When a worker dies, the others' next collective fails within seconds (the coordination
    service notices the closed connection) instead of waiting forever.
    """
    try:
        yield
    except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError,
            tf.errors.CancelledError) as exc:
        if not is_multi_worker(strategy):
            raise
        detail = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        raise TrainingError(
            f"multi-worker training lost another worker ({type(exc).__name__}: {detail[:200]}); a synchronous "
            "step needs every worker, so all of them stop: restart them all with the same TF_CONFIG and --resume "
            "(the chief's run directory keeps the last checkpoint)") from exc


def gather_from_replicas(strategy: tf.distribute.Strategy, value: float) -> np.ndarray:
    """``[replicas]``: every replica's ``value`` (float64), the chief's first.

    A collective: every worker must call it at the same point. The trainer uses it to make
    sure all workers resume from the same epoch and take the same early-stopping decision.
    """
    gather = _GATHERS.get(strategy)
    if gather is None:
        @tf.function
        def gather(local):
            def replica_fn(local):
                return tf.distribute.get_replica_context().all_gather(tf.reshape(local, [1]), axis=0)

            return strategy.experimental_local_results(strategy.run(replica_fn, args=(local,)))[0]

        _GATHERS[strategy] = gather
    return gather(tf.constant(value, tf.float64)).numpy()


_GATHERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # one traced gather per strategy


def ensure_cpu_devices(count: int) -> None:
    """Splits the CPU into ``count`` logical devices (a no-op if there are enough)."""
    physical = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(physical)
    if current is not None and len(current) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise TrainingError(
            f"training.distribution: cannot split the CPU into {count} devices after TensorFlow has started; "
            "start a fresh process (mtlflow train does this before anything else)") from None


def first_replica(next_creator, **kwargs):
    """Trainer state is computed identically on every replica: keep the first one's value."""
    kwargs["aggregation"] = tf.VariableAggregation.ONLY_FIRST_REPLICA
    kwargs.setdefault("synchronization", tf.VariableSynchronization.ON_WRITE)
    return next_creator(**kwargs)
