"""Tokenizers with two identical implementations: Python (data checks) and TF (in the graph).

The TF version runs inside the exported SavedModel with core string ops only, so stock
TF Serving can load it; the Python version checks at read time that a tagging example
has one tag per token. ``tests/test_tokenize.py`` checks that both agree.

* ``whitespace``: split on runs of Unicode whitespace (space-separated languages).
* ``char``: every character that is not whitespace is a token (Chinese, Japanese).
* ``mixed``: whitespace-separated words, except that every CJK ideograph and every CJK or
  full-width punctuation mark is a token of its own, as BERT's basic tokenizer splits
  Chinese (Devlin et al., 2019): one tokenizer for corpora that mix English and Chinese.
"""

from __future__ import annotations

import re

# Unicode white space (category Zs plus the control spaces), as one class for Python's
# ``re`` and for RE2 (TensorFlow), so both tokenizers split at exactly the same places.
_SPACES = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_PY_SPACE = re.compile(f"[{_SPACES}]+")
_RE2_SPACE = (
    r"[\t\n\x{0b}\x{0c}\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}]"
)
# CJK ideographs (BERT's ranges), CJK symbols and punctuation (not U+3000, a space) and
# full-width forms: each its own token under ``mixed``.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F), (0x3001, 0x303F), (0xFF00, 0xFFEF))
_PY_CJK = re.compile("([" + "".join(f"{chr(lo)}-{chr(hi)}" for lo, hi in _CJK_RANGES) + "])")
_RE2_CJK = "([" + "".join(f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in _CJK_RANGES) + "])"
TOKENIZERS = ("whitespace", "char", "mixed")
JOINERS = {"whitespace": " ", "char": "", "mixed": " "}


def tokenize(text: str, tokenizer: str, lowercase: bool = False) -> list[str]:
    """Python reference tokenizer."""
    if lowercase:
        text = text.lower()
    if tokenizer == "whitespace":
        return [t for t in _PY_SPACE.split(text) if t]
    if tokenizer == "char":
        return [c for c in text if not _PY_SPACE.fullmatch(c)]
    if tokenizer == "mixed":
        return [t for t in _PY_SPACE.split(_PY_CJK.sub(r" \1 ", text)) if t]
    raise ValueError(f"unknown tokenizer {tokenizer!r}; allowed: {', '.join(TOKENIZERS)}")


def tf_tokenize(texts, tokenizer: str, lowercase: bool = False):
    """``[batch]`` strings → ``[batch, None]`` ragged string tokens, in the TF graph."""
    import tensorflow as tf

    if lowercase:
        texts = tf.strings.lower(texts, encoding="utf-8")
    if tokenizer == "whitespace":
        return tf.strings.split(tf.strings.regex_replace(texts, _RE2_SPACE + "+", " "))
    if tokenizer == "char":
        chars = tf.strings.unicode_split(texts, "UTF-8")
        return tf.ragged.boolean_mask(chars, ~tf.strings.regex_full_match(chars, _RE2_SPACE))
    if tokenizer == "mixed":
        spaced = tf.strings.regex_replace(texts, _RE2_CJK, r" \1 ")
        return tf.strings.split(tf.strings.regex_replace(spaced, _RE2_SPACE + "+", " "))
    raise ValueError(f"unknown tokenizer {tokenizer!r}; allowed: {', '.join(TOKENIZERS)}")
