"""Cross-stitch networks: one MLP column per task, mixed by a learnable T×T matrix after each layer."""

from __future__ import annotations

import numbers

import keras
from keras import ops

from mtlflow.layers.experts import ExpertStack, check_positive_int, check_units, leading_axes, task_masks


@keras.saving.register_keras_serializable(package="mtlflow")
class CrossStitch(keras.layers.Layer):
    """Cross-stitch units: per-task columns that learn how much to share, layer by layer.

    Each task ``i`` has its own MLP column (widths ``units``). After every layer ``l`` the
    columns' activations are mixed by a learnable ``T × T`` matrix ``α^l``:
    ``x̃_i = Σ_j α_ij x_j``, and the next layer of column ``i`` reads ``x̃_i``.
    ``α^l`` starts at ``alpha_self`` on the diagonal and ``(1 - alpha_self) / (T - 1)``
    elsewhere (``[[1]]`` when ``T = 1``); with ``α = I`` the layer is
    :class:`SeparateBottom`. The columns are evaluated together (one ``[T, in, out]``
    kernel per layer; column ``i`` is index ``i``).

    Args:
        num_tasks: number of task outputs ``T``.
        units: widths of each column's layers. Default ``(64, 32)``.
        alpha_self: initial diagonal of the cross-stitch matrices, in ``[0, 1]``. Default 0.9.
        activation: activation of every layer. Default ``"relu"``.
        dropout: dropout rate after every layer (before stitching). Default ``0.0``.
        seed: seed of the dropout layers. Default ``None``.

    Returns (from ``call``):
        A list of ``T`` tensors ``[batch, (time,) units[-1]]``.

    References:
        Misra, Shrivastava, Gupta, Hebert. "Cross-stitch Networks for Multi-task
        Learning." CVPR 2016.

    Example::

        layer = mtlflow.layers.CrossStitch(2, units=(32, 16))
        outputs = layer(keras.ops.ones((4, 8)))
        outputs[1].shape, layer.stitch_matrices[0].shape  # (4, 16), (2, 2)
    """

    gated = False

    def __init__(self, num_tasks: int, units=(64, 32), alpha_self: float = 0.9, activation="relu",
                 dropout: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_tasks = check_positive_int("num_tasks", num_tasks)
        self.units = check_units("units", units)
        if isinstance(alpha_self, bool) or not isinstance(alpha_self, numbers.Real) or not 0.0 <= alpha_self <= 1.0:
            raise ValueError(f"Argument `alpha_self` must be a float in [0, 1]. Received: alpha_self={alpha_self!r}")
        self.alpha_self = float(alpha_self)
        self.columns = ExpertStack(self.num_tasks, self.units, activation, dropout, seed, name="columns")
        self._stitches = []
        self.supports_masking = True

    def build(self, input_shape):
        self.columns.build(input_shape)
        t = self.num_tasks
        off = (1.0 - self.alpha_self) / (t - 1) if t > 1 else 0.0
        diagonal = self.alpha_self if t > 1 else 1.0

        def initializer(shape, dtype=None):
            return ops.cast(ops.where(ops.eye(t) > 0, diagonal, off), dtype or "float32")

        for depth in range(len(self.units)):
            self._stitches.append(self.add_weight(shape=(t, t), initializer=initializer, name=f"stitch_{depth}"))

    @property
    def stitch_matrices(self) -> list:
        """The ``T × T`` cross-stitch variables ``α^l``, one per layer (``α_ij``: column ``j`` into ``i``)."""
        return list(self._stitches)

    def call(self, inputs, training=None):
        x = inputs
        for depth, stitch in enumerate(self._stitches):
            x = self.columns.layer_call(x, depth, training=training)  # [..., T, units]
            lead = leading_axes(x, 2)
            x = ops.einsum(f"ij,{lead}jd->{lead}id", stitch, x)
        return [x[..., i, :] for i in range(self.num_tasks)]

    def compute_output_shape(self, input_shape):
        return [tuple(input_shape)[:-1] + (self.units[-1],) for _ in range(self.num_tasks)]

    def compute_mask(self, inputs, mask=None):
        return task_masks(mask, self.num_tasks, False)

    def get_config(self):
        columns = self.columns.get_config()
        return {**super().get_config(), "num_tasks": self.num_tasks, "units": list(self.units),
                "alpha_self": self.alpha_self, "activation": columns["activation"], "dropout": columns["dropout"],
                "seed": columns["seed"]}
