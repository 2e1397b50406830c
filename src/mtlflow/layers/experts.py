"""Blocks shared by the sharing layers: an MLP, a stack of MLP experts, a softmax gate, checks.

:class:`ExpertStack` evaluates ``n`` same-shaped MLP experts with one einsum per layer:
layer ``l`` keeps every expert's kernel in one ``[n, in, out]`` weight, so
``h_i = act(x W_i + b_i)`` for all ``i`` is ``einsum("bi,nio->bno")`` (first layer, one
input read by every expert) or ``einsum("bni,nio->bno")`` (deeper layers, one input per
expert), with a ``t`` axis added for ``[batch, time, dim]`` inputs. Outputs put the expert
axis second to last, ``[batch, (time,) n, units[-1]]``.
"""

from __future__ import annotations

import math
import numbers

import keras
from keras import ops


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"Argument `{name}` must be a positive integer. Received: {name}={value!r}")
    return int(value)


def check_units(name: str, value, allow_empty: bool = False) -> tuple[int, ...]:
    """A width or a sequence of widths → a tuple of positive ints."""
    units = (value,) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else value
    try:
        units = tuple(units)
    except TypeError:
        units = None
    ok = units is not None and (units or allow_empty) and all(
        isinstance(u, numbers.Integral) and not isinstance(u, bool) and u > 0 for u in units)
    if not ok:
        kind = "a list" if allow_empty else "a non-empty list"
        raise ValueError(f"Argument `{name}` must be {kind} of positive integers. Received: {name}={value!r}")
    return tuple(int(u) for u in units)


def check_rate(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0.0 <= value < 1.0:
        raise ValueError(f"Argument `{name}` must be a float in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_seed(value) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral)):
        raise ValueError(f"Argument `seed` must be an integer or None. Received: seed={value!r}")
    return None if value is None else int(value)


def check_bool(name: str, value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"Argument `{name}` must be True or False. Received: {name}={value!r}")
    return value


def check_activation(value):
    try:
        return keras.activations.get(value)
    except (ValueError, TypeError):
        raise ValueError(f"Argument `activation` must name a Keras activation. Received: activation={value!r}") \
            from None


def sub_seed(seed: int | None, offset: int) -> int | None:
    """A distinct, reproducible seed per dropout layer (``None`` stays ``None``)."""
    return None if seed is None else seed + 7919 * offset


def task_masks(mask, num_tasks: int, return_gates: bool):
    """The input's padding mask repeated for every task output (and every gate)."""
    if mask is None:
        return None
    masks = [mask] * num_tasks
    return (masks, list(masks)) if return_gates else masks


def check_task_index(layer, task_index) -> int:
    if isinstance(task_index, bool) or not isinstance(task_index, numbers.Integral) \
            or not 0 <= task_index < layer.num_tasks:
        raise ValueError(f"Argument `task_index` must be in [0, {layer.num_tasks}). Received: task_index={task_index!r}")
    return int(task_index)


def leading_axes(x, trailing: int) -> str:
    """Einsum letters for ``x``'s leading axes (batch, time, ...), all but ``trailing``.

    Subscripts are spelled out because TensorFlow's einsum is two orders of magnitude
    slower with ``...`` than with explicit axes.
    """
    return "abcefgh"[: len(x.shape) - trailing]


def mix(gate, experts):
    """``Σ_i g_i e_i``: gate ``[..., n]`` and experts ``[..., n, d]`` → ``[..., d]``."""
    return ops.sum(gate[..., None] * experts, axis=-2)


@keras.saving.register_keras_serializable(package="mtlflow")
class MLP(keras.layers.Layer):
    """Dense layers of widths ``units`` on the last axis, with dropout after each."""

    def __init__(self, units, activation="relu", dropout: float = 0.0, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.units = check_units("units", units)
        self.activation = check_activation(activation)
        self.dropout = check_rate("dropout", dropout)
        self.seed = check_seed(seed)
        self.dense = [keras.layers.Dense(u, activation=self.activation, name=f"dense_{i}")
                      for i, u in enumerate(self.units)]
        self.dropouts = [keras.layers.Dropout(self.dropout, seed=sub_seed(self.seed, i), name=f"dropout_{i}")
                         for i in range(len(self.units))] if self.dropout else []
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)

    def call(self, x, training=None):
        for i, layer in enumerate(self.dense):
            x = layer(x)
            if self.dropouts:
                x = self.dropouts[i](x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units[-1],)

    def get_config(self):
        return {**super().get_config(), "units": list(self.units),
                "activation": keras.activations.serialize(self.activation),
                "dropout": self.dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="mtlflow")
class ExpertStack(keras.layers.Layer):
    """``num_experts`` MLPs of widths ``units``, evaluated together with one einsum per layer.

    Layer ``l`` holds ``kernel_l [n, in, out]`` and ``bias_l [n, out]`` (expert ``i``'s Dense
    kernel is ``kernel_l[i]``, Glorot-uniform initialised as a Dense layer's would be).
    ``[..., dim]`` → ``[..., n, units[-1]]``.

    Example::

        experts = ExpertStack(4, units=(16,))
        experts(keras.ops.ones((32, 8))).shape  # (32, 4, 16)
    """

    def __init__(self, num_experts: int, units, activation="relu", dropout: float = 0.0,
                 seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_experts = check_positive_int("num_experts", num_experts)
        self.units = check_units("units", units)
        self.activation = check_activation(activation)
        self.dropout = check_rate("dropout", dropout)
        self.seed = check_seed(seed)
        self.dropouts = [keras.layers.Dropout(self.dropout, seed=sub_seed(self.seed, i), name=f"dropout_{i}")
                         for i in range(len(self.units))] if self.dropout else []
        self.kernels, self.biases = [], []
        self.supports_masking = True

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        for i, units in enumerate(self.units):
            limit = math.sqrt(6.0 / (fan_in + units))
            self.kernels.append(self.add_weight(
                shape=(self.num_experts, fan_in, units), name=f"kernel_{i}",
                initializer=keras.initializers.RandomUniform(-limit, limit)))
            self.biases.append(self.add_weight(shape=(self.num_experts, units), name=f"bias_{i}",
                                               initializer="zeros"))
            fan_in = units

    def layer_call(self, x, depth: int, training=None):
        """Layer ``depth`` of every expert: ``[..., in]`` (depth 0) or ``[..., n, in]`` → ``[..., n, out]``."""
        lead = leading_axes(x, 1 if depth == 0 else 2)
        pattern = f"{lead}i,nio->{lead}no" if depth == 0 else f"{lead}ni,nio->{lead}no"
        h = self.activation(ops.einsum(pattern, x, self.kernels[depth]) + self.biases[depth])
        return self.dropouts[depth](h, training=training) if self.dropouts else h

    def call(self, x, training=None):
        for depth in range(len(self.units)):
            x = self.layer_call(x, depth, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.num_experts, self.units[-1])

    def get_config(self):
        return {**super().get_config(), "num_experts": self.num_experts, "units": list(self.units),
                "activation": keras.activations.serialize(self.activation),
                "dropout": self.dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="mtlflow")
class Gate(keras.layers.Layer):
    """``softmax(W MLP(x) + b)`` over ``num_choices`` experts, per position: ``[..., dim]`` → ``[..., n]``."""

    def __init__(self, num_choices: int, hidden_units=(), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.num_choices = check_positive_int("num_choices", num_choices)
        self.hidden_units = check_units("hidden_units", hidden_units, allow_empty=True)
        self.activation = check_activation(activation)
        # A gate over one expert is identically 1: it has no weights.
        self.hidden = (MLP(self.hidden_units, self.activation, name="hidden")
                       if self.hidden_units and self.num_choices > 1 else None)
        self.logits = keras.layers.Dense(self.num_choices, name="logits") if self.num_choices > 1 else None
        self.supports_masking = True

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.hidden is not None:
            self.hidden.build(shape)
            shape = self.hidden.compute_output_shape(shape)
        if self.logits is not None:
            self.logits.build(shape)

    def call(self, x):
        if self.logits is None:
            return ops.ones_like(x[..., :1])
        if self.hidden is not None:
            x = self.hidden(x)
        return ops.softmax(self.logits(x), axis=-1)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.num_choices,)

    def get_config(self):
        return {**super().get_config(), "num_choices": self.num_choices, "hidden_units": list(self.hidden_units),
                "activation": keras.activations.serialize(self.activation)}
