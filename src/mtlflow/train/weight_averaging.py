"""The exponential moving average of the weights (``training.ema_momentum``).

Every optimizer keeps, beside each variable it updates, the average

    θ̄_t = μ θ̄_{t-1} + (1 − μ) θ_t,    θ̄_1 = θ_1

(Keras optimizers' own ``use_ema``; Polyak and Juditsky, SIAM J. Control Optim. 1992). The
trainer evaluates, keeps as best and exports the averaged weights, and goes on training
the raw ones: :func:`averaged_weights` swaps the averages in for the length of a block.
The averages are optimizer variables, so the ``last`` checkpoint holds them and a resumed
run continues them exactly.
"""

from __future__ import annotations

import contextlib
from typing import Iterable

import keras


def averaging_optimizers(pairs: Iterable[tuple[keras.optimizers.Optimizer, list]]) -> list[tuple]:
    """The ``(optimizer, variables)`` pairs whose optimizer averages and has taken a step
    (an optimizer that never stepped, e.g. a group frozen so far, holds no average yet)."""
    return [(o, vs) for o, vs in pairs if o.use_ema and int(keras.ops.convert_to_numpy(o.iterations)) > 0]


@contextlib.contextmanager
def averaged_weights(pairs: Iterable[tuple[keras.optimizers.Optimizer, list]]):
    """Within the block the variables hold their moving averages; after it, their own values.

    Yields whether any average was swapped in (False without ``use_ema``: a no-op).
    """
    active = averaging_optimizers(pairs)
    saved = [(v, keras.ops.convert_to_numpy(v)) for _, variables in active for v in variables]
    for optimizer, variables in active:
        optimizer.finalize_variable_values(variables)
    try:
        yield bool(active)
    finally:
        for variable, value in saved:
            variable.assign(value)


def keep_averages(pairs: Iterable[tuple[keras.optimizers.Optimizer, list]]) -> bool:
    """Overwrites the variables with their moving averages for good; returns whether any was."""
    active = averaging_optimizers(pairs)
    for optimizer, variables in active:
        optimizer.finalize_variable_values(variables)
    return bool(active)
