"""One call of a compiled train function: several steps with the batches pulled in-graph.

One call runs up to ``steps_per_execution`` steps, pulling batches from the iterator inside
the graph (as Keras ``fit`` does), so the Python side only touches the loop once per
execution: to update the progress bar, check that every task loss is finite and write
TensorBoard scalars.

The number of steps is decided in Python and passed in (a tensor, so one trace serves every
count). When the caller knows the iterator holds at least that many batches — an epoch of
known length, as ``fit`` knows its dataset's — the loop pulls them with ``get_next``;
otherwise with ``get_next_as_optional`` and stops at the end of the data, at the price of an
optional and a ``has_value`` check per step.
"""

from __future__ import annotations

import tensorflow as tf


def run_steps(iterator, step, count, task_names: list[str], *, known: bool, loop: bool):
    """``count`` calls of ``step(batch)`` on batches pulled from ``iterator`` inside the graph
    (fewer when ``known`` is False and the data ends); returns the summed task losses and the
    number of steps run.

    ``loop`` False runs exactly one step without an in-graph loop (``count`` is ignored): a
    one-iteration ``tf.range`` loop around the step made each step ~5% slower at one step
    per execution (BENCHMARKS.md, "Train step").
    """
    if not loop:
        if known:
            return step(iterator.get_next()), tf.constant(1)
        batch = iterator.get_next_as_optional()
        if batch.has_value():
            return step(batch.get_value()), tf.constant(1)
        return {name: tf.constant(0.0) for name in task_names}, tf.constant(0)
    sums = {name: tf.constant(0.0) for name in task_names}
    if known:
        for _ in tf.range(count):
            losses = step(iterator.get_next())
            sums = {name: sums[name] + losses[name] for name in task_names}
        return sums, count
    steps = tf.constant(0)
    for _ in tf.range(count):
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
