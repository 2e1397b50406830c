"""``training.distribution:``: the ``tf.distribute`` strategy (synchronous only)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from mtlflow.config.base import PositiveInt, StrictModel


class DistributionConfig(StrictModel):
    """``tf.distribute`` strategy; every one takes the same synchronous step as one device
    with the same global batch (``training.batch_size``).

    * ``none``: one device.
    * ``mirrored``: this machine's devices (``devices``: how many; on a CPU-only machine
      they are logical CPU devices).
    * ``multi_worker``: ``MultiWorkerMirroredStrategy`` over the processes that the
      ``TF_CONFIG`` environment variable lists (checked when training starts: without it the
      error says how to set it). ``devices``: GPUs per worker (default all; on CPU a worker
      is one replica). ``communication``: the all-reduce, ``auto``, ``ring`` (gRPC) or
      ``nccl`` (GPUs). Only the chief writes the run directory.

    ``parameter_server`` is not offered: ``ParameterServerStrategy`` workers apply their own
    batch's gradients asynchronously, with no all-reduce between them, whereas the trainer's
    step needs the whole global batch at once — the masked means divide by the global label
    count, and gradient-level balancers (PCGrad, MGDA, CAGrad, Nash-MTL …) combine every
    task's gradient of the same batch. Under asynchronous updates each worker would balance
    its own slice against stale parameters, which is a different algorithm, not the same one
    scaled out.
    """

    strategy: Literal["none", "mirrored", "multi_worker"] = "none"
    devices: PositiveInt | None = None
    communication: Literal["auto", "ring", "nccl"] = "auto"

    @model_validator(mode="before")
    @classmethod
    def _no_parameter_server(cls, data):
        if isinstance(data, dict) and data.get("strategy") == "parameter_server":
            raise ValueError("strategy: 'parameter_server' is not supported: its asynchronous per-worker updates "
                             "cannot give gradient-level balancers every task's gradient of the same global batch; "
                             "use 'multi_worker' (synchronous, one TF_CONFIG per worker)")
        return data

    @model_validator(mode="after")
    def _communication_needs_multi_worker(self):
        if self.communication != "auto" and self.strategy != "multi_worker":
            raise ValueError(f"communication: {self.communication!r} chooses the all-reduce between workers and "
                             f"applies only to strategy: multi_worker (got strategy: {self.strategy!r})")
        return self
