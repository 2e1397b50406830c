"""Negative-transfer diagnostics accumulated inside the train step.

On steps where the per-task gradients of the shared parameters ``g_t`` are at hand, adds
up their pairwise cosine similarity ``cos(g_i, g_j) = g_i·g_j / (‖g_i‖ ‖g_j‖)`` and its square, whether it
is negative (a *conflict*: a step along ``g_i`` increases task ``j``'s loss), and each
task's norm relative to the mean norm; every step adds up the balancer's task weights.
:meth:`GradientStats.read_and_reset` turns the sums into epoch means for the history,
TensorBoard and ``mtlflow diagnose``.
"""

from __future__ import annotations

import tensorflow as tf

from mtlflow.balance.diagnostics import conflict, cosine_matrix, norm_ratios


class GradientStats(tf.Module):
    def __init__(self, num_tasks: int):
        super().__init__(name="gradient_stats")
        t = num_tasks
        self.cosine = tf.Variable(tf.zeros([t, t]), trainable=False)
        self.cosine_squares = tf.Variable(tf.zeros([t, t]), trainable=False)
        self.conflicts = tf.Variable(tf.zeros([t, t]), trainable=False)
        self.norm_ratio = tf.Variable(tf.zeros([t]), trainable=False)
        self.measured = tf.Variable(0.0, trainable=False)
        self.weights = tf.Variable(tf.zeros([t]), trainable=False)
        self.steps = tf.Variable(0.0, trainable=False)

    def add_gradients(self, gradients: tf.Tensor, measured=True) -> None:
        """Adds one step's statistics; ``measured`` (a bool tensor) False adds nothing.

        Assignments are unconditional (scaled by ``measured``) because variables that
        tf.distribute synchronises cannot be assigned inside ``tf.cond``.
        """
        scale = tf.cast(measured, tf.float32)
        cosine = cosine_matrix(gradients)
        self.cosine.assign_add(scale * cosine)
        self.cosine_squares.assign_add(scale * tf.square(cosine))
        self.conflicts.assign_add(scale * tf.cast(conflict(gradients), tf.float32))
        self.norm_ratio.assign_add(scale * norm_ratios(gradients))
        self.measured.assign_add(scale)

    def add_weights(self, weights: tf.Tensor) -> None:
        self.weights.assign_add(tf.cast(weights, tf.float32))
        self.steps.assign_add(1.0)

    def read_and_reset(self, names: list[str]) -> dict:
        """Epoch means (JSON-ready) and zeroed sums."""
        n, steps = float(self.measured.numpy()), float(self.steps.numpy())
        out = {"tasks": names, "steps": int(steps), "measured_steps": int(n),
               "weights": [round(float(w) / max(steps, 1.0), 5) for w in self.weights.numpy()]}
        if n > 0:
            out["cosine"] = [[round(float(c) / n, 4) for c in row] for row in self.cosine.numpy()]
            # the mean of cos² over the measured steps: with the mean, the spread behind diagnose's intervals
            out["cosine_sq"] = [[round(float(c) / n, 5) for c in row] for row in self.cosine_squares.numpy()]
            out["conflict_rate"] = [[round(float(c) / n, 4) for c in row] for row in self.conflicts.numpy()]
            out["norm_ratio"] = [round(float(r) / n, 4) for r in self.norm_ratio.numpy()]
        for v in (self.cosine, self.cosine_squares, self.conflicts, self.norm_ratio, self.measured, self.weights, self.steps):
            v.assign(tf.zeros_like(v))
        return out
