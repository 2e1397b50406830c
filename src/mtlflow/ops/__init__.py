"""Tensor functions that several layers of the package need (tasks and layers, train and
evaluate): they depend on TensorFlow and NumPy only, never on another mtlflow package."""
