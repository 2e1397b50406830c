"""Will the served model see the tokens it was trained on? Checked on pre-tokenised data.

JointBERT and CoNLL files give the tokens; their readers build ``text`` by joining
them with spaces, and the model tokenises that text in its graph. Trained so, a model
scores well on its test split (whose text is built the same way) and then, served,
gets what a client really sends: ``我想听周杰伦的歌``, no spaces. Under the
``whitespace`` tokenizer that is one token, and no slot is ever found.

So before training, every training sentence is written as a client would write it
(:func:`client_text`: tokens joined by a space, except between two tokens that are each
one Chinese/Japanese character or full-width punctuation mark, the signature of
character-level data, where no space is written; a token's own ``␣`` is a space) and
tokenised again. Only that signature and spaces inside tokens are looked for: an English
corpus with a token such as ``playstation官方杂志`` passes as it is. If the configured tokenizer does not give back the
file's tokens, training stops naming the tokenizer that does (``char``: every
character a token; ``mixed``: words, and every CJK character a token); when the config
left the tokenizer at its default and one tokenizer reproduces every sentence, that
one is used, and the run says so. Tokens that hold a space (``New␣York``) or several
Chinese characters (``周杰伦``, word-segmented text) no tokenizer reproduces; the error
says how to re-tokenise the file.

A token that is nothing but ``␣`` (a space tagged in a character-level corpus) is left
out of the comparison: the tokenizers drop spaces, as documented in
:mod:`mtlflow.data.conll_reader`.
"""

from __future__ import annotations

from mtlflow.data.conll_reader import SPACE_TOKEN
from mtlflow.data.table import Table
from mtlflow.data.tokenize import _PY_CJK, tokenize
from mtlflow.errors import DataError

CANDIDATES = ("char", "mixed")  # in order of preference when both reproduce the data


def _is_cjk(character: str) -> bool:
    return bool(_PY_CJK.fullmatch(character))


def _one_cjk_character(token: str) -> bool:
    return len(token) == 1 and _is_cjk(token)


def client_text(tokens: list[str]) -> str:
    """The sentence as a person types it: words between spaces, single CJK characters run together."""
    text, previous = "", None
    for token in tokens:
        if previous is not None and not (_one_cjk_character(previous) and _one_cjk_character(token)):
            text += " "
        text += token.replace(SPACE_TOKEN, " ")
        previous = token
    return text


def _words(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t.strip(SPACE_TOKEN)]


def reproduces(tokens: list[str], tokenizer: str, lowercase: bool = False) -> bool:
    """Whether ``tokenizer`` splits :func:`client_text` of ``tokens`` back into ``tokens``."""
    words = _words(tokens)
    expected = [w.lower() for w in words] if lowercase else words
    return tokenize(client_text(words), tokenizer, lowercase) == expected


def settle_tokenizer(table: Table, tokenizer: str, *, explicit: bool, lowercase: bool = False,
                     column: str = "text") -> tuple[str, str | None]:
    """The tokenizer to train with, and a note when it differs from ``tokenizer``.

    Args:
      table: the training table; only a ``pretokenized`` one (JointBERT, CoNLL) whose
        ``column`` is the readers' ``text`` is checked.
      tokenizer: ``inputs.text.tokenizer`` as configured.
      explicit: whether the config set it (then it is never replaced: a mismatch raises).

    Raises:
      DataError: naming the first sentence (``file:line``) that ``tokenizer`` cannot
        reproduce, what it would see instead, and the tokenizer (or re-tokenisation) to use.
    """
    if not table.pretokenized or column != "text":
        return tokenizer, None
    sentences = [(row.get("tokens") or [], location) for row, location in zip(table.rows, table.locations)]
    failing = next(((t, loc) for t, loc in sentences if not reproduces(t, tokenizer, lowercase)), None)
    if failing is None:
        return tokenizer, None
    working = [c for c in CANDIDATES if c != tokenizer and all(reproduces(t, c, lowercase) for t, _ in sentences)]
    tokens, location = failing
    if working and not explicit:
        return working[0], (
            f"inputs.text.tokenizer: using {working[0]!r}, not the default {tokenizer!r}: {table.source} gives "
            f"tokens a client writes without spaces (e.g. {location}: {client_text(_words(tokens))!r}), which "
            f"{tokenizer!r} would see as {_shown(tokenize(client_text(_words(tokens)), tokenizer, lowercase))}; "
            f"set inputs.text.tokenizer in the config to make the choice explicit"
        )
    raise DataError(_mismatch_message(tokens, location, tokenizer, lowercase, working))


def _shown(tokens: list[str], limit: int = 8) -> str:
    more = f" ... ({len(tokens)} tokens)" if len(tokens) > limit else ""
    return "[" + ", ".join(repr(t) for t in tokens[:limit]) + more + "]"


def _mismatch_message(tokens: list[str], location: str, tokenizer: str, lowercase: bool, working: list[str]) -> str:
    words = _words(tokens)
    text = client_text(words)
    seen = tokenize(text, tokenizer, lowercase)
    head = (f"{location}: the {tokenizer!r} tokenizer cannot reproduce this sentence's tokens from the text a "
            f"client sends ({text!r} → {_shown(seen)}, but the file has {_shown(words)}), so the served model "
            "would not see the tokens it was trained on")
    if working:
        return f"{head}; set inputs.text.tokenizer: {working[0]} (it reproduces every training sentence)"
    spaced = next((w for w in words if SPACE_TOKEN in w), None)
    if spaced is not None:
        first, *rest = spaced.split(SPACE_TOKEN)
        return (f"{head}; the token {spaced.replace(SPACE_TOKEN, ' ')!r} holds a space, which no tokenizer keeps "
                f"inside one token: split it into one token per word (e.g. `{first} B-x` then "
                f"`{' '.join(rest)} I-x`)")
    segmented = next((w for w in words if len(w) > 1 and any(_is_cjk(c) for c in w)), None)
    if segmented is not None:
        return (f"{head}; the token {segmented!r} holds several CJK characters, which the char and mixed "
                "tokenizers split: write one token per character (tagging the extra characters I-<type>) and "
                "set inputs.text.tokenizer: char")
    return f"{head}; re-tokenise the file so that one of whitespace, char, mixed gives back its tokens"
