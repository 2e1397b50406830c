"""mtlflow: config-driven multi-task learning on TensorFlow 2 / Keras 3.

Build a multi-task model from a YAML config, train it with a compiled
``tf.GradientTape`` loop over masked per-task losses, evaluate every task, and
export one SavedModel that takes raw inputs and returns every task's outputs.
"""

__version__ = "0.1.0"
