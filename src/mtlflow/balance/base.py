"""The balancing contract: a method is a pair of pure functions over explicit state.

A :class:`Balancer` is what every factory in :mod:`mtlflow.balance` returns (the optax
pattern, ``optax/_src/base.py``)::

    balancer = mtlflow.balance.pcgrad(seed=0)
    state = balancer.init(num_tasks)
    result, state = balancer.update(losses=losses, gradients=gradients, state=state)

The trainer calls ``update`` inside its compiled train step, with keyword arguments
only; extra keywords are ignored, so one call site serves every method:

* ``losses``: ``[T]`` float32, the current masked mean task losses (taken as constants);
* ``gradients``: ``[T, P]`` float32, row ``t`` the gradient of ``L_t`` with respect to the
  shared parameters, flattened and concatenated — passed only when
  ``balancer.needs_gradients`` (else ``None``).

It receives a :class:`BalanceResult`: the loss ``weights`` (task-specific parameters
follow ``∇ Σ_t w_t L_t``) and either a combined ``shared_gradient`` or ``None``, meaning
"use ``Σ_t w_t g_t``". Every method here keeps ``shared_gradient == weights @ gradients``
whenever it returns one, so reusing its weights as a linear combination is always valid.

State is a ``NamedTuple`` of tensors whose shapes and dtypes never change, so it can live
in ``tf.Variable`` s (:class:`StateVariables`) and be checkpointed.
"""

from __future__ import annotations

import types
from typing import Any, Callable, Mapping, NamedTuple

import tensorflow as tf

State = Any  # a (possibly nested) NamedTuple of tf.Tensors with static shapes and dtypes


class BalanceResult(NamedTuple):
    """What one balancing step returns.

    Attributes:
      weights: ``[T]`` float32 loss weights; task-specific parameters get the gradient of
        ``Σ_t w_t L_t``. For gradient-level methods, the coefficients of the combination.
      shared_gradient: ``[P]`` combined gradient for the shared parameters, or ``None``
        to use ``Σ_t w_t g_t``.
    """

    weights: tf.Tensor
    shared_gradient: tf.Tensor | None = None


class Balancer(NamedTuple):
    """A loss-balancing or gradient-combination method.

    Attributes:
      name: the registry key (or the wrapper's name).
      init: ``init(num_tasks) -> state``.
      update: ``update(*, losses, gradients=None, state, **ignored) -> (BalanceResult, state)``.
      needs_gradients: whether ``update`` needs the ``[T, P]`` per-task gradients.
      wants_gradients: optional ``state -> scalar bool tensor``: whether the next
        ``update`` will read the gradients (``None``: whenever ``needs_gradients``).
        On a ``False`` step the trainer may pass zeros of the same shape instead.
      config: the factory's hyperparameters (see :func:`mtlflow.balance.get_config`).
    """

    name: str
    init: Callable[[int], State]
    update: Callable[..., tuple[BalanceResult, State]]
    needs_gradients: bool
    wants_gradients: Callable[[State], tf.Tensor] | None = None
    config: Mapping[str, Any] = types.MappingProxyType({})


class EmptyState(NamedTuple):
    """The state of a stateless method."""


def _paths(state, prefix=""):
    """``[(dotted field path, tensor)]`` for a nested NamedTuple of tensors."""
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return [item for field in state._fields
                for item in _paths(getattr(state, field), f"{prefix}{field}.")]
    return [(prefix[:-1], state)]


class StateVariables(tf.Module):
    """Holds a balancer's state in non-trainable ``tf.Variable`` s.

    ``value()`` returns the state, ``assign(state)`` stores a new one (both usable inside a
    ``tf.function``); the object is trackable, so ``tf.train.Checkpoint(balance=holder)``
    saves and restores it, one variable per (dotted) state field.

    Example::

        holder = StateVariables(balancer.init(3))
        result, new_state = balancer.update(losses=losses, state=holder.value())
        holder.assign(new_state)

    ``variable(initial_value, name)`` makes each variable (default: a non-trainable
    ``tf.Variable``); a Keras layer passes its ``add_weight``, so that ``model.save()`` keeps
    the state.
    """

    def __init__(self, state: State, name: str = "balance_state",
                 variable: Callable[[tf.Tensor, str], Any] | None = None):
        super().__init__(name=name)
        self._template = state
        variable = variable or (lambda tensor, name: tf.Variable(tensor, trainable=False, name=name))
        self.fields = {path: variable(tensor, path.replace(".", "_")) for path, tensor in _paths(state)}

    def value(self) -> State:
        """The current state (a NamedTuple like the one given at construction)."""
        return tf.nest.pack_sequence_as(
            self._template, [v.read_value() for v in self.fields.values()])

    def assign(self, state: State):
        """Stores ``state`` (same structure, shapes and dtypes as the initial one)."""
        for path, tensor in _paths(state):
            self.fields[path].assign(tensor)
