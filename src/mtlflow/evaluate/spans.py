"""Chunk (span) extraction from BIO / BIOES tag sequences.

Semantics follow the CoNLL-2000 ``conlleval`` script (Tjong Kim Sang & Buchholz,
2000, "Introduction to the CoNLL-2000 Shared Task: Chunking"), which is lenient:

* a chunk starts at ``B-X`` or ``S-X``, and at ``I-X`` / ``E-X`` when the
  previous token is not inside an open chunk of type ``X`` (it is ``O``, has
  another type, or the previous chunk was closed by ``E-`` / ``S-``);
* ``O`` ends the open chunk; ``B-X`` always ends it and starts a new one;
* ``E-X`` closes its chunk after that token and ``S-X`` is a one-token chunk
  (``bioes`` only);
* a tag without a prefix (plain ``X``) is read as ``I-X``.

``validate_tags`` is the strict counterpart: it reports the first transition
that a well-formed sequence of the scheme would not contain.
"""

from collections.abc import Sequence

Span = tuple[str, int, int]
"""``(type, start, end_exclusive)`` in token indices."""

SCHEMES: dict[str, frozenset[str]] = {
    "bio": frozenset({"B", "I"}),
    "bioes": frozenset({"B", "I", "E", "S"}),
}
_ALL_PREFIXES = frozenset({"B", "I", "E", "S"})


def _check_scheme(scheme: str) -> frozenset[str]:
    if scheme not in SCHEMES:
        allowed = ", ".join(repr(s) for s in SCHEMES)
        raise ValueError(f"unknown tagging scheme {scheme!r}; allowed values: {allowed}")
    return SCHEMES[scheme]


def _split(tag: str) -> tuple[str, str]:
    """Split a tag into ``(prefix, type)``; ``O`` gives ``("O", "")``, plain ``X`` gives ``("I", "X")``."""
    if tag == "O":
        return "O", ""
    prefix, sep, kind = tag.partition("-")
    if sep and prefix in _ALL_PREFIXES:
        return prefix, kind
    return "I", tag


def _parse(tags: Sequence[str], scheme: str) -> list[tuple[str, str]]:
    """Split every tag, raising ``ValueError`` for a prefix the scheme does not have or an empty type."""
    prefixes = _check_scheme(scheme)
    parsed = []
    for position, tag in enumerate(tags):
        prefix, kind = _split(str(tag))
        if prefix != "O" and prefix not in prefixes:
            raise ValueError(f"tag {tag!r} at position {position} is not valid in scheme {scheme!r}")
        if prefix != "O" and not kind:
            raise ValueError(f"tag {tag!r} at position {position} has no chunk type")
        parsed.append((prefix, kind))
    return parsed


def spans_from_tags(tags: Sequence[str], scheme: str = "bio") -> list[Span]:
    """Return the chunks of one tag sequence as ``(type, start, end_exclusive)``, in order.

    Lenient ``conlleval`` decoding (see the module docstring), e.g.
    ``["O", "I-date", "I-date", "B-date"]`` gives
    ``[("date", 1, 3), ("date", 3, 4)]``.

    Raises ``ValueError`` for an unknown ``scheme`` (allowed: ``"bio"``,
    ``"bioes"``), for ``E-`` / ``S-`` tags under ``"bio"``, and for a prefixed
    tag with an empty type such as ``"B-"``.
    """
    spans: list[Span] = []
    open_type: str | None = None
    start = 0

    def close(end: int) -> None:
        nonlocal open_type
        if open_type is not None:
            spans.append((open_type, start, end))
            open_type = None

    for i, (prefix, kind) in enumerate(_parse(tags, scheme)):
        if prefix == "O":
            close(i)
            continue
        if prefix in ("B", "S") or open_type != kind:
            close(i)
            open_type, start = kind, i
        if prefix in ("E", "S"):
            close(i + 1)
    close(len(tags))
    return spans


def validate_tags(tags: Sequence[str], scheme: str = "bio") -> str | None:
    """Return a message for the first ill-formed transition in ``tags``, or ``None`` if well formed.

    ``bio``: ``I-X`` must follow ``B-X`` or ``I-X``.
    ``bioes``: additionally ``E-X`` must follow ``B-X`` or ``I-X``; ``B-X`` and
    ``S-X`` must not follow an open ``B-`` / ``I-``; ``B-X`` / ``I-X`` must be
    followed by ``I-X`` or ``E-X`` (so a sequence cannot end inside a chunk).
    A plain tag ``X`` is read as ``I-X``.  Example message:
    ``"I-date after O at position 3"``.

    Raises ``ValueError`` only for an unknown ``scheme``.
    """
    prefixes = _check_scheme(scheme)
    bioes = scheme == "bioes"
    prev_tag, prev_prefix, prev_type = "start of sequence", "O", ""
    for i, raw in enumerate(tags):
        tag = str(raw)
        prefix, kind = _split(tag)
        if prefix != "O" and prefix not in prefixes:
            return f"{tag} at position {i} is not a {scheme} tag"
        if prefix != "O" and not kind:
            return f"{tag} at position {i} has no chunk type"
        inside_same = prev_prefix in ("B", "I") and prev_type == kind
        if prefix in ("I", "E") and not inside_same:
            return f"{tag} after {prev_tag} at position {i}"
        if bioes and prev_prefix in ("B", "I") and (not inside_same or prefix in ("B", "S")):
            return f"{tag} after {prev_tag} at position {i}"
        prev_tag, prev_prefix, prev_type = tag, prefix, kind
    if bioes and prev_prefix in ("B", "I"):
        return f"sequence ends after {prev_tag} at position {len(tags) - 1}"
    return None


def span_texts(tokens: Sequence[str], spans: Sequence[Span], joiner: str = "") -> list[tuple[str, str]]:
    """Return ``(type, joiner.join(tokens[start:end]))`` for each span.

    The default ``joiner=""`` suits character-tokenised text (e.g. Chinese);
    use ``" "`` for word tokens.  Raises ``ValueError`` for a span outside
    ``tokens``.
    """
    texts = []
    for kind, start, end in spans:
        if not 0 <= start < end <= len(tokens):
            raise ValueError(f"span {(kind, start, end)!r} is outside a sequence of {len(tokens)} tokens")
        texts.append((kind, joiner.join(str(t) for t in tokens[start:end])))
    return texts
