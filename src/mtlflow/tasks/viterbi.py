"""Viterbi decoding now lives in :mod:`mtlflow.ops.viterbi` (below both tasks and layers)."""

from mtlflow.ops.viterbi import NEG, bio_constraints, viterbi_numpy, viterbi_tf

__all__ = ["NEG", "bio_constraints", "viterbi_numpy", "viterbi_tf"]
