"""One call of the compiled train function: several steps with the batches pulled in-graph.

One call runs up to ``steps_per_execution`` steps, pulling batches from the iterator inside
the graph (as Keras ``fit`` does), so the Python side only touches the loop once per
execution: to update the progress bar, check that every task loss is finite and write
TensorBoard scalars.
"""

from __future__ import annotations

import tensorflow as tf


def run_steps(iterator, step, steps_per_execution: int, task_names: list[str]):
    """Up to ``steps_per_execution`` calls of ``step(batch)`` on batches pulled from ``iterator``
    inside the graph; returns the summed task losses and the number of steps run."""
    if steps_per_execution == 1:
        # One step needs no in-graph loop: a one-iteration tf.range loop around the step
        # made each step ~5% slower (BENCHMARKS.md, "Train step").
        batch = iterator.get_next_as_optional()
        if batch.has_value():
            return step(batch.get_value()), tf.constant(1)
        return {name: tf.constant(0.0) for name in task_names}, tf.constant(0)
    sums = {name: tf.constant(0.0) for name in task_names}
    steps = tf.constant(0)
    for _ in tf.range(steps_per_execution):
        batch = iterator.get_next_as_optional()
        if not batch.has_value():
            break
        losses = step(batch.get_value())
        sums = {name: sums[name] + losses[name] for name in task_names}
        steps += 1
    return sums, steps


def distributed_step(strategy, step, batch):
    """``step(*batch)``, on every replica of ``strategy`` when one is given (None: one device)."""
    if strategy is None:
        return step(*batch)
    per_replica = strategy.run(step, args=tuple(batch))
    # every replica returns the same all-reduced losses
    return {k: strategy.experimental_local_results(v)[0] for k, v in per_replica.items()}
