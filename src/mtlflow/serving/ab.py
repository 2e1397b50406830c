"""A/B routing: a weighted split of traffic between version labels, sticky per key.

A request that carries a key (the ``X-Mtlflow-Key`` header, the ``mtlflow_key`` body
field, or ``x-mtlflow-key`` gRPC metadata) always goes to the same arm: the key's stable
hash (BLAKE2b, independent of the process and of Python's hash seed) picks a point in
[0, 1), and the arms own consecutive slices of that interval in proportion to their
weights. A request without a key gets a random point.

Example::

    router = ABRouter.parse("stable=90,canary=10")
    router.choose("user-42")   # the same arm every time for this key
"""

from __future__ import annotations

import hashlib
import random
from typing import NamedTuple


class ABRouter(NamedTuple):
    """Arms (version labels) and their normalised weights, in the order given."""

    arms: tuple[str, ...]
    weights: tuple[float, ...]

    @classmethod
    def create(cls, weights: dict[str, float]) -> "ABRouter":
        if not weights:
            raise ValueError("Argument `weights` must name at least one label. Received: weights={}")
        bad = {k: w for k, w in weights.items() if not (w >= 0)}
        if bad or sum(weights.values()) <= 0:
            raise ValueError(f"Argument `weights` must be non-negative with a positive sum. Received: weights={weights}")
        total = float(sum(weights.values()))
        return cls(tuple(weights), tuple(w / total for w in weights.values()))

    @classmethod
    def parse(cls, text: str) -> "ABRouter":
        """``"stable=90,canary=10"`` (weights need not sum to 100)."""
        weights: dict[str, float] = {}
        for part in text.split(","):
            label, sep, weight = part.partition("=")
            try:
                if not sep or not label.strip():
                    raise ValueError
                weights[label.strip()] = float(weight)
            except ValueError:
                raise ValueError(f"--ab {text!r}: expected LABEL=WEIGHT pairs such as 'stable=90,canary=10'") from None
        return cls.create(weights)

    def choose(self, key: str | None = None) -> str:
        """The arm for ``key`` (sticky), or a random arm when there is no key."""
        point = stable_fraction(key) if key else random.random()
        total = 0.0
        for arm, weight in zip(self.arms, self.weights):
            total += weight
            if point < total:
                return arm
        return self.arms[-1]

    def describe(self) -> str:
        return ",".join(f"{a}={w * 100:g}%" for a, w in zip(self.arms, self.weights))


def stable_fraction(key: str) -> float:
    """A number in [0, 1) determined by ``key`` alone."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
