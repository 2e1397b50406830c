"""Which versions of a model to serve: TF Serving's ``latest`` (N), ``all`` and ``specific``."""

from __future__ import annotations

from typing import NamedTuple


class VersionPolicy(NamedTuple):
    """A model version policy.

    Attributes:
      kind: ``latest`` (the ``num_versions`` highest loadable versions), ``all``, or
        ``specific`` (exactly ``versions``).
      num_versions: for ``latest``; at least 1.
      versions: for ``specific``; at least one.

    Versions that failed to load are left out before choosing, so with ``latest`` a broken
    new version never displaces the good one before it.

    Example::

        VersionPolicy.parse("latest:2").select([1, 2, 3])   # [2, 3]
    """

    kind: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    @classmethod
    def latest(cls, num_versions: int = 1) -> "VersionPolicy":
        if num_versions < 1:
            raise ValueError(f"Argument `num_versions` must be >= 1. Received: num_versions={num_versions}")
        return cls("latest", num_versions)

    @classmethod
    def all(cls) -> "VersionPolicy":
        return cls("all")

    @classmethod
    def specific(cls, versions) -> "VersionPolicy":
        versions = tuple(sorted(set(int(v) for v in versions)))
        if not versions or versions[0] < 0:
            raise ValueError(f"Argument `versions` must list non-negative versions. Received: versions={list(versions)}")
        return cls("specific", versions=versions)

    @classmethod
    def parse(cls, text: str) -> "VersionPolicy":
        """``latest``, ``latest:N``, ``all`` or ``specific:V1,V2`` (the CLI's spelling)."""
        kind, _, arg = text.strip().partition(":")
        try:
            if kind == "latest":
                return cls.latest(int(arg) if arg else 1)
            if kind == "all" and not arg:
                return cls.all()
            if kind == "specific":
                return cls.specific(int(v) for v in arg.split(",") if v.strip())
        except ValueError as exc:
            raise ValueError(f"version policy {text!r}: {exc}") from None
        raise ValueError(f"version policy {text!r}: use latest, latest:N, all or specific:V1,V2")

    def select(self, candidates) -> list[int]:
        """The versions to serve out of the loadable ``candidates``, ascending."""
        candidates = sorted(set(candidates))
        if self.kind == "all":
            return candidates
        if self.kind == "specific":
            return [v for v in candidates if v in self.versions]
        return candidates[-self.num_versions:]

    def describe(self) -> str:
        if self.kind == "latest":
            return f"latest {self.num_versions}"
        if self.kind == "specific":
            return "specific " + ",".join(map(str, self.versions))
        return "all"
