"""Per-task losses for :class:`~mtlflow.keras.MultiTaskModel`: anything ``compile`` accepts as a
loss, turned into the *unreduced* per-example loss that the train step masks and averages.

The step reduces every task's loss the same way, whatever its origin:
``L_t = Σ_i m_i ℓ_i / Σ_i m_i`` over the labelled examples of the (global) batch, with ``m_i``
the mask or Keras ``sample_weight`` (:func:`mtlflow.train.step.global_masked_losses`).
"""

from __future__ import annotations

from typing import Callable

import keras
from keras.src.losses.losses import LossFunctionWrapper  # what compile() wraps a loss function in


def per_example_loss(loss, task: str) -> Callable:
    """``f(y_true, y_pred) -> ℓ`` (``[batch]``, or ``[batch, time]``) for the loss of ``task``.

    Args:
      loss: a Keras loss name (``"sparse_categorical_crossentropy"``, ``"mse"``, ...), a
        ``keras.losses.Loss`` instance, a loss function ``f(y_true, y_pred)``, or an mtlflow
        task (:class:`mtlflow.tasks.Task`), whose ``per_example_loss`` is used as it is.
      task: the task's name (for the error message).

    Raises:
      ValueError: ``loss`` is none of these.
    """
    if hasattr(loss, "per_example_loss"):  # an mtlflow Task, or its Keras loss (MaskedTaskLoss)
        return loss.per_example_loss
    try:
        resolved = keras.losses.get(loss) if isinstance(loss, str) else loss
    except ValueError:
        resolved = None
    if callable(resolved) and not isinstance(resolved, keras.losses.Loss):
        resolved = LossFunctionWrapper(resolved)
    if not isinstance(resolved, keras.losses.Loss):
        raise ValueError(f"Argument `losses[{task!r}]` must be a Keras loss (a name such as "
                         f"'sparse_categorical_crossentropy', a keras.losses.Loss or a function) or an mtlflow "
                         f"task. Received: losses[{task!r}]={loss!r}")

    def unreduced(y_true, y_pred):
        # as keras.losses.Loss.__call__ does, without its reduction
        y_pred = keras.ops.convert_to_tensor(y_pred, dtype=resolved.dtype)
        y_true = keras.ops.convert_to_tensor(y_true, dtype=resolved.dtype)
        return resolved.call(y_true, y_pred)

    return unreduced
