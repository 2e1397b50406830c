"""The ``tf.distribute`` strategy a training config asks for.

``mirrored`` replicates the model on ``devices`` local devices (all GPUs by default; on a
CPU-only machine, logical CPU devices, which must be configured before TensorFlow starts
running ops — ``mtlflow train`` does it first thing). Every replica takes its slice of the
global batch, and the trainer sums per-replica contributions to the *global* masked mean
loss, so one device and N devices with the same global batch take the same step.
"""

from __future__ import annotations

import tensorflow as tf

from mtlflow.config import DistributionConfig
from mtlflow.errors import TrainingError


def make_strategy(distribution: DistributionConfig) -> tf.distribute.Strategy | None:
    """None for ``strategy: none``, else the configured strategy."""
    if distribution.strategy == "none":
        return None
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        devices = [d.name for d in gpus[: distribution.devices or len(gpus)]]
        return tf.distribute.MirroredStrategy(devices)
    wanted = distribution.devices or 2
    ensure_cpu_devices(wanted)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")[:wanted]]
    return tf.distribute.MirroredStrategy(devices)


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
