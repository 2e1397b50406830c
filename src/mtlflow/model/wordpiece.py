"""BERT WordPiece tokenizer built from core TensorFlow ops only.

Exported SavedModels must load in stock TF Serving, which lacks the ``tensorflow-text``
custom ops, so this tokenizer uses only ``tf.strings`` (RE2 regexes included),
``tf.lookup.StaticHashTable``, ``tf.ragged`` and ``tf.while_loop``.

It reproduces BERT's two stages (Hugging Face ``BertTokenizer`` / ``tokenizers``):

1. Basic tokenization: drop control characters, NUL and U+FFFD; put spaces around CJK
   ideographs; strip accents (NFD, then drop nonspacing marks ``Mn``); lowercase; split on
   whitespace and isolate each punctuation character (ASCII 33–47, 58–64, 91–96, 123–126
   and Unicode ``P*``). Core TF has no Unicode normalisation op, so accent stripping and
   lowercasing are one per-character table (``char → lower(strip(NFD(char)))``) computed
   at construction with Python's ``unicodedata``; the character classes (control,
   punctuation, CJK) likewise become RE2 character classes with explicit code-point ranges.
   The tables therefore follow Python's Unicode version: against the Rust ``tokenizers``
   reference (older Unicode tables), 559 of the 1,112,064 code points split differently,
   all characters assigned in recent Unicode versions (mostly marks and punctuation).
   Unassigned code points are kept, as the reference does.
2. WordPiece: greedy longest-match-first with ``##`` continuation pieces. All candidate
   pieces of every word (each start position × each length up to the longest vocabulary
   piece) are looked up at once; a ``tf.while_loop`` then walks all words in parallel.
   A word longer than ``max_chars_per_word`` characters, or one that cannot be covered by
   pieces, becomes a single ``[UNK]``.

Special tokens typed in the text ("[SEP]") are tokenized as ordinary text, unlike the
Hugging Face tokenizers, which match them as added tokens: input cannot inject a separator.

Example::

    tok = WordPieceTokenizer("vocab.txt", max_length=128)
    out = tok(tf.constant(["Hello, world!"]))
    out["token_ids"]   # [[101, 7592, 1010, 2088, 999, 102]]
    out["word_index"]  # [[-1, 0, 1, 2, 3, -1]]
"""

from __future__ import annotations

import functools
import sys
import unicodedata

import tensorflow as tf

# Whitespace (Unicode White_Space), as in Rust's ``char::is_whitespace``.
_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# CJK Unified Ideographs blocks, as BERT defines "Chinese characters".
_CJK_RANGES = (
    (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F),
)


def _is_control(c: str) -> bool:
    """Removed by BERT's text cleaning: NUL, U+FFFD, categories Cc/Cf/Co except tab/CR/LF.

    Unassigned code points (Cn) are kept, as the Rust ``tokenizers`` reference does (the
    Python ``BertTokenizer`` drops them).
    """
    if c in "\t\n\r":
        return False
    return c in "\x00\ufffd" or unicodedata.category(c) in ("Cc", "Cf", "Co")


def _is_punctuation(c: str) -> bool:
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


@functools.cache
def _ranges(predicate) -> list[tuple[int, int]]:
    """Maximal code-point ranges (surrogates excluded) where ``predicate(char)`` holds."""
    out: list[tuple[int, int]] = []
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF or not predicate(chr(cp)):
            continue
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def _re2_class(ranges) -> str:
    parts = [f"\\x{{{lo:x}}}" if lo == hi else f"\\x{{{lo:x}}}-\\x{{{hi:x}}}" for lo, hi in ranges]
    return "[" + "".join(parts) + "]"


@functools.cache
def _char_map(lowercase: bool, strip_accents: bool) -> dict[str, str]:
    """``char → lower(strip_accents(char))`` for every (non-control, non-CJK) char it changes."""
    mapping = {}
    for cp in range(sys.maxunicode + 1):
        if 0xD800 <= cp <= 0xDFFF or cp < 0x41:
            continue
        c = chr(cp)
        out = c
        if strip_accents:
            out = "".join(x for x in unicodedata.normalize("NFD", out) if unicodedata.category(x) != "Mn")
        if lowercase:
            out = "".join(x.lower() for x in out)  # per character: no final-sigma rule
        if out != c and not _is_control(c):
            mapping[c] = out
    return mapping


def _read_vocab(path: str) -> list[str]:
    with tf.io.gfile.GFile(path, "r") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]


class WordPieceTokenizer(tf.Module):
    """Texts → BERT token ids, ``[CLS] … [SEP]``, in the TF graph with core ops only.

    Args:
        vocab_path: BERT ``vocab.txt``: one token per line, id = line index. Must contain
            ``[CLS]``, ``[SEP]``, ``[PAD]`` and ``unk_token``.
        lowercase: lowercase the text (uncased models). Default ``True``.
        strip_accents: remove accents; ``None`` (default) follows ``lowercase``, as Hugging
            Face ``BertTokenizer`` does.
        max_length: longest output including ``[CLS]``/``[SEP]``; longer texts lose their
            last pieces and keep ``[SEP]``. ``None`` (default): no truncation.
        unk_token: the unknown-word token. Default ``"[UNK]"``.
        max_chars_per_word: longer words become ``unk_token``. Default 100.

    Returns (from ``__call__``, for ``[batch]`` strings), padded to the longest text:
        ``token_ids``: int32 ``[batch, time]``, padded with the ``[PAD]`` id.
        ``mask``: bool ``[batch, time]``, True on real tokens (``[CLS]``/``[SEP]`` included).
        ``word_index``: int32 ``[batch, time]``, the index of the whitespace/punctuation
            word each piece belongs to; -1 on ``[CLS]``, ``[SEP]`` and padding. A tagger
            labels the first piece of each word (JointBERT).
    """

    def __init__(
        self,
        vocab_path: str,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        max_length: int | None = None,
        unk_token: str = "[UNK]",
        max_chars_per_word: int = 100,
    ):
        super().__init__(name="wordpiece_tokenizer")
        if max_length is not None and max_length < 2:
            raise ValueError(f"Argument `max_length` must be >= 2 or None. Received: max_length={max_length}")
        if max_chars_per_word < 1:
            raise ValueError(
                f"Argument `max_chars_per_word` must be >= 1. Received: max_chars_per_word={max_chars_per_word}"
            )
        self.vocab_path = vocab_path
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.max_length = max_length
        self.unk_token = unk_token
        self.max_chars_per_word = max_chars_per_word

        vocab = _read_vocab(vocab_path)
        ids = {}
        for i, token in enumerate(vocab):
            ids.setdefault(token, i)  # first occurrence wins, as in BertTokenizer
        for special in ("[CLS]", "[SEP]", "[PAD]", unk_token):
            if special not in ids:
                raise ValueError(f"vocabulary {vocab_path!r} has no {special!r} token")
        self.cls_id, self.sep_id = ids["[CLS]"], ids["[SEP]"]
        self.pad_id, self.unk_id = ids["[PAD]"], ids[unk_token]
        # Longest piece in characters (without "##"): longer candidates cannot match.
        self.max_piece_chars = max(len(t[2:] if t.startswith("##") else t) for t in ids) or 1
        self._vocab_table = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(ids), tf.string), tf.constant(list(ids.values()), tf.int32)
            ),
            default_value=-1,
        )

        self._control_re = _re2_class(_ranges(_is_control))
        self._punct_re = "(" + _re2_class(_ranges(_is_punctuation)) + ")"
        self._cjk_re = "(" + _re2_class(sorted(_CJK_RANGES)) + ")"
        self._space_re = _re2_class((ord(c), ord(c)) for c in _WHITESPACE) + "+"
        mapping = _char_map(self.lowercase, self.strip_accents)
        self._char_table = None
        if mapping:
            self._char_table = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(list(mapping), tf.string), tf.constant(list(mapping.values()), tf.string)
                ),
                default_value="\x00",  # never a value: NUL is removed by cleaning
            )

    def get_config(self) -> dict:
        return {
            "vocab_path": self.vocab_path,
            "lowercase": self.lowercase,
            "strip_accents": self.strip_accents,
            "max_length": self.max_length,
            "unk_token": self.unk_token,
            "max_chars_per_word": self.max_chars_per_word,
        }

    def words(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """BERT basic tokenization: ``[batch]`` strings → ``[batch, (words)]`` strings."""
        texts = tf.strings.regex_replace(texts, self._control_re, "")
        texts = tf.strings.regex_replace(texts, self._cjk_re, r" \1 ")
        if self._char_table is not None:
            chars = tf.strings.unicode_split(texts, "UTF-8", errors="replace")
            mapped = tf.ragged.map_flat_values(self._char_table.lookup, chars)
            chars = tf.ragged.map_flat_values(
                lambda m, c: tf.where(tf.equal(m, "\x00"), c, m), mapped, chars
            )
            texts = tf.strings.reduce_join(chars, axis=1)
        texts = tf.strings.regex_replace(texts, self._punct_re, r" \1 ")
        texts = tf.strings.regex_replace(texts, self._space_re, " ")
        return tf.strings.split(texts)

    def _wordpiece(self, words: tf.Tensor) -> tf.RaggedTensor:
        """Flat ``[n]`` words → ``[n, (pieces)]`` ids, greedy longest-match-first."""
        k = self.max_piece_chars
        n_chars = tf.strings.length(words, unit="UTF8_CHAR")
        too_long = n_chars > self.max_chars_per_word
        n_chars = tf.where(too_long, 0, n_chars)  # too-long words: no candidates, → [UNK]
        # Candidates: one row per (word, start char), one column per length 1..k.
        word_of_row = tf.repeat(tf.range(tf.size(words)), n_chars)
        row_starts = tf.cumsum(n_chars, exclusive=True)
        start = tf.range(tf.size(word_of_row)) - tf.gather(row_starts, word_of_row)
        left = tf.gather(n_chars, word_of_row) - start
        lengths = tf.range(1, k + 1)
        valid = lengths[None, :] <= left[:, None]  # [rows, k]
        cand_word = tf.boolean_mask(tf.broadcast_to(word_of_row[:, None], tf.shape(valid)), valid)
        cand_start = tf.boolean_mask(tf.broadcast_to(start[:, None], tf.shape(valid)), valid)
        cand_len = tf.boolean_mask(tf.broadcast_to(lengths[None, :], tf.shape(valid)), valid)
        pieces = tf.strings.substr(tf.gather(words, cand_word), cand_start, cand_len, unit="UTF8_CHAR")
        pieces = tf.where(cand_start > 0, tf.strings.join(["##", pieces]), pieces)
        found = self._vocab_table.lookup(pieces)
        matches = tf.scatter_nd(tf.where(valid), found + 1, tf.shape(valid, out_type=tf.int64)) - 1  # -1: no match
        no_match_row = tf.shape(matches)[0]  # an extra all -1 row, for finished words
        matches = tf.concat([matches, tf.fill([1, k], -1)], axis=0)

        n_words = tf.size(words)
        steps = tf.maximum(tf.reduce_max(tf.concat([n_chars, [0]], 0)), 1)

        def body(t, pos, failed, ids_ta, emit_ta):
            active = (pos < n_chars) & ~failed
            row = tf.gather(matches, tf.where(active, row_starts + pos, no_match_row))  # [n, k]
            hit = row >= 0
            best = tf.reduce_max(tf.where(hit, lengths[None, :], 0), axis=1)  # 0: no piece
            piece_id = tf.gather(row, tf.maximum(best - 1, 0), batch_dims=1)
            emit = active & (best > 0)
            failed = failed | (active & (best == 0))
            return (t + 1, pos + tf.where(emit, best, 0), failed,
                    ids_ta.write(t, piece_id), emit_ta.write(t, emit))

        _, _, failed, ids_ta, emit_ta = tf.while_loop(
            lambda t, *_: t < steps,
            body,
            (tf.constant(0), tf.zeros_like(n_chars), too_long,
             tf.TensorArray(tf.int32, size=steps), tf.TensorArray(tf.bool, size=steps)),
        )
        ids = tf.transpose(ids_ta.stack())  # [n, steps]
        emit = tf.transpose(emit_ta.stack())
        # A failed word is one [UNK]: put it in column 0 and hide the rest of its row.
        first = tf.range(steps)[None, :] == 0
        ids = tf.where(failed[:, None] & first, self.unk_id, ids)
        emit = tf.where(failed[:, None], first, emit)
        return tf.ragged.boolean_mask(tf.reshape(ids, [n_words, steps]), tf.reshape(emit, [n_words, steps]))

    def __call__(self, texts: tf.Tensor) -> dict:
        """``[batch]`` strings → ``token_ids``, ``mask``, ``word_index`` (see class doc)."""
        texts = tf.convert_to_tensor(texts, tf.string)
        words = self.words(texts)  # [batch, (words)]
        pieces = self._wordpiece(words.flat_values)  # [n_words, (pieces)]
        word_pos = tf.ragged.range(words.row_lengths()).flat_values  # index of word in its text
        word_pos = tf.repeat(word_pos, pieces.row_lengths())
        piece_counts = tf.math.unsorted_segment_sum(  # pieces per text
            pieces.row_lengths(), words.value_rowids(), tf.shape(texts, out_type=tf.int64)[0]
        )
        token_ids = tf.RaggedTensor.from_row_lengths(tf.cast(pieces.flat_values, tf.int32), piece_counts)
        word_index = tf.RaggedTensor.from_row_lengths(tf.cast(word_pos, tf.int32), piece_counts)
        if self.max_length is not None:
            token_ids = token_ids[:, : self.max_length - 2]
            word_index = word_index[:, : self.max_length - 2]
        batch = tf.shape(texts)[0]
        cls = tf.fill([batch, 1], self.cls_id)
        sep = tf.fill([batch, 1], self.sep_id)
        minus = tf.fill([batch, 1], -1)
        token_ids = tf.concat([cls, token_ids, sep], axis=1)
        word_index = tf.concat([minus, word_index, minus], axis=1)
        return {
            "token_ids": token_ids.to_tensor(self.pad_id),
            "mask": tf.sequence_mask(token_ids.row_lengths()),
            "word_index": word_index.to_tensor(-1),
        }

    def encode_words(self, words: tf.RaggedTensor, max_length: int = 512) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
        """Pre-split words ``[batch, (words)]`` → pieces and each word's first piece.

        For models whose labels are per word (slot tags over whitespace tokens): every word
        is basic-tokenized and WordPiece'd on its own, so piece boundaries never cross a
        word. A word that yields no piece (only control characters) becomes ``[UNK]``, so
        every word has a first piece.

        Returns:
            ``token_ids``: ``[batch, (pieces)]`` int32, ``[CLS] … [SEP]``, at most
                ``max_length`` long (the last pieces are cut, ``[SEP]`` kept).
            ``word_starts``: ``[batch, (words)]`` int32, the position of each word's first
                piece in ``token_ids`` (≥ 1, since ``[CLS]`` is at 0; a word cut off by
                ``max_length`` points at ``[SEP]``). The JointBERT recipe labels and reads
                each word at its first piece.
        """
        flat = words.flat_values  # [n]
        sub = self.words(flat)  # [n, (sub-words)]: punctuation split off, lowercased, ...
        pieces = self._wordpiece(sub.flat_values)  # [m, (pieces)]
        n = tf.shape(flat, out_type=tf.int64)[0]
        per_word = tf.math.unsorted_segment_sum(pieces.row_lengths(), sub.value_rowids(), n)  # [n]
        by_word = tf.RaggedTensor.from_row_lengths(tf.cast(pieces.flat_values, tf.int32), per_word)
        empty = tf.cast(per_word == 0, tf.int64)
        unk = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(empty)], self.unk_id), empty)
        by_word = tf.concat([by_word, unk], axis=1)  # [n, (pieces ≥ 1)]
        counts = by_word.row_lengths()
        text_of_word = words.value_rowids()
        batch = words.nrows()
        offset_in_text = tf.cumsum(counts, exclusive=True) - tf.gather(
            tf.cumsum(tf.math.unsorted_segment_sum(counts, text_of_word, batch), exclusive=True), text_of_word
        )
        limit = max_length - 2
        starts = tf.cast(tf.minimum(offset_in_text, limit) + 1, tf.int32)
        word_starts = tf.RaggedTensor.from_row_lengths(starts, words.row_lengths())
        token_ids = tf.RaggedTensor.from_row_lengths(by_word.flat_values, tf.math.unsorted_segment_sum(counts, text_of_word, batch))
        token_ids = token_ids[:, :limit]
        ones = tf.ones([batch, 1], tf.int32)
        token_ids = tf.concat([ones * self.cls_id, token_ids, ones * self.sep_id], axis=1)
        return token_ids, word_starts
