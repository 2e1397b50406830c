"""Read CoNLL-style ``token tag`` files (one sentence per blank-line block) into a :class:`Table`.

::

    # intent: book_flight          ← optional sentence label (also ``# label = X``)
    fly O
    to O
    New␣York B-city
    tomorrow B-date
                                   ← a blank line ends the sentence

* **Lines.** The tag is what follows the *last* space or tab of a line, the token is
  everything before it, so a token may itself be a space: ``"  O"`` is the token
  ``" "`` tagged ``O``. Whitespace-only lines are blank; trailing spaces are ignored.
  BIO and BIOES tags are read as they are; the tagging task checks them against its
  ``scheme``.
* **Space tokens.** Every whitespace character inside a token becomes
  :data:`SPACE_TOKEN` ``␣`` (U+2423) in ``tokens`` and ``text``: ``text`` is the tokens
  joined by single spaces, and both tokenizers see a lone ``␣`` as exactly one token
  (``whitespace``: a run of non-space characters; ``char``: one character), where a
  space would vanish and leave a tag without its token. A model trained on such data
  labels ``␣`` in a request; a space in a request is no token at all.
* **Sentence labels.** A comment ``# label = X`` / ``# label: X`` / ``# intent = X`` /
  ``# intent: X`` before a sentence's first token, or line *i* of a side file
  ``<file>.labels`` for sentence *i* (an empty line: no label). With both, they must
  agree. Other lines that start with ``#`` before the first token are comments, unless
  they read as a token and a tag (``# O`` is the token ``#``); inside a sentence every
  line is a token line. ``-DOCSTART-`` lines (CoNLL-2003 document breaks) are dropped.
* **Rows.** ``{"text", "tokens", "tags", "label"}`` as the JointBERT reader gives (no
  ``label`` column when the file has no labels), located at the sentence's first token
  line. Unknown tags or labels (e.g. seen only in a dev file) are the tasks' business:
  an error naming ``file:line``, or masked and counted under ``data.on_bad_label: mask``.

Only two columns: for multi-column CoNLL-2003 files keep the first and the last
(``cut -d' ' -f1,4``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from mtlflow.data.table import Table, check_on_bad_row, iter_lines
from mtlflow.data.tokenize import tokenize
from mtlflow.errors import DataError

SPACE_TOKEN = "\u2423"  # ␣ OPEN BOX, the visible sign for a space
DOCSTART = "-DOCSTART-"
LABELS_SUFFIX = ".labels"
_LABEL_COMMENT = re.compile(r"#\s*(?:label|intent)\s*[=:]\s*(.*)")
_TAG_LIKE = re.compile(r"O|[BIES]-\S+")


@dataclass
class _Sentence:
    """One blank-line block while it is read."""

    first_line: int = 0  # of the first token
    tokens: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    label: str | None = None
    label_line: int = 0
    problem: tuple[int, str] | None = None  # the first bad line and why
    ended: bool = False  # by a -DOCSTART- line

    def fail(self, number: int, reason: str) -> None:
        self.problem = self.problem or (number, reason)

    @property
    def counts(self) -> bool:
        """Whether this block is a sentence (for side-file alignment), not just comments."""
        return bool(self.tokens or self.problem or self.label_line)


def read_conll(path: str | Path, *, on_bad_row: str = "error") -> Table:
    """Read ``path`` (and ``<path>.labels`` when it exists), one row per sentence.

    See the module docstring for the format. Malformed lines raise a ``DataError``
    naming ``path:line``, or, with ``on_bad_row="skip"``, skip their sentence.
    """
    check_on_bad_row(on_bad_row)
    source = str(path)
    side_path = Path(source + LABELS_SUFFIX)
    side = _read_side_labels(side_path) if side_path.is_file() else None
    table = Table(source, columns=["text", "tokens", "tags"], pretokenized=True)
    sentences: list[_Sentence] = []
    current = _Sentence()
    for number, raw in enumerate(iter_lines(path), 1):
        line = raw.rstrip("\r\n").rstrip(" \t")
        if not line.strip():
            sentences.append(current)
            current = _Sentence()
            continue
        _read_line(current, line, number)
        if current.ended:
            sentences.append(current)
            current = _Sentence()
    sentences = [s for s in [*sentences, current] if s.counts]
    if side is not None and len(side) != len(sentences):
        raise DataError(
            f"{side_path}:{min(len(side), len(sentences)) + 1}: {len(side)} labels for {len(sentences)} sentences "
            f"in {source}; give one label per sentence, in order (an empty line for none)"
        )
    has_labels = side is not None or any(s.label_line for s in sentences)
    if has_labels:
        table.columns.append("label")
    for index, sentence in enumerate(sentences):
        if side is not None:
            _merge_side_label(sentence, side[index], side_path, index + 1)
        if not sentence.tokens:
            sentence.fail(sentence.label_line, "a label comment with no sentence after it; "
                                               "remove it or add the sentence's `token tag` lines")
        if sentence.problem:
            number, reason = sentence.problem
            table.reject(f"{source}:{number}", reason, on_bad_row)
            continue
        row = {"text": " ".join(sentence.tokens), "tokens": sentence.tokens, "tags": sentence.tags}
        if has_labels:
            row["label"] = sentence.label
        table.add(row, f"{source}:{sentence.first_line}")
    return table.require_rows("no sentences; write one `token tag` per line and a blank line after each sentence")


def _read_line(sentence: _Sentence, line: str, number: int) -> None:
    """Add one non-blank line (a comment, a label or a token and its tag) to ``sentence``."""
    label = _LABEL_COMMENT.fullmatch(line)
    if not sentence.tokens and label:
        if sentence.label_line:
            sentence.fail(number, f"a second label comment for one sentence (the first is on line "
                                  f"{sentence.label_line}); keep one")
        sentence.label, sentence.label_line = label.group(1).strip() or None, number
        return
    if label:
        sentence.fail(number, "a label comment inside a sentence; put it before the sentence's first token, "
                              "after a blank line")
        return
    cut = max(line.rfind(" "), line.rfind("\t"))
    token, tag = line[:max(cut, 0)], line[cut + 1:]
    if not sentence.tokens and line.startswith("#") and not (token and _TAG_LIKE.fullmatch(tag)):
        return  # a comment
    if token.split()[:1] == [DOCSTART]:
        sentence.ended = True
        return
    if cut < 0:
        sentence.fail(number, f"expected `token tag` (the tag after the last space), got {line!r}; "
                              "is a blank line missing, or the tag?")
    elif not token:
        sentence.fail(number, f"empty token before the tag {tag!r}; write a space token as a space, "
                              "a space and the tag")
    if not sentence.tokens:
        sentence.first_line = number
    sentence.tokens.append(_visible(token))
    sentence.tags.append(tag)


def _visible(token: str) -> str:
    """The token with every whitespace character (as the tokenizers see it) replaced by ``␣``."""
    return "".join(c if tokenize(c, "char") else SPACE_TOKEN for c in token)


def _read_side_labels(path: Path) -> list[tuple[int, str | None]]:
    return [(number, line.strip() or None) for number, line in enumerate(iter_lines(path), 1)]


def _merge_side_label(sentence: _Sentence, side: tuple[int, str | None], side_path: Path, index: int) -> None:
    number, label = side
    if sentence.label_line and sentence.label != label:
        sentence.fail(sentence.label_line, f"label {sentence.label!r} disagrees with {side_path}:{number} "
                                           f"({label!r}, sentence {index}); keep one of them")
    sentence.label = label
