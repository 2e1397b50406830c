"""The Python and TensorFlow tokenizers split every text identically."""

import pytest
import tensorflow as tf

from mtlflow.data.tokenize import tf_tokenize, tokenize

TEXTS = [
    "我想取消昨天下的订单",
    "订单号 20231105 还没到！",
    "  leading and  trailing  ",
    "tabs\tand\nnewlines\r\nhere",
    "ideographic\u3000space and\xa0nbsp",
    "emoji 😀 and café",
    "",
    "   ",
    "Mixed CASE Ärger",
    "play Yesterday，然后取消订单。ok！𠀀x",
]


@pytest.mark.parametrize("tokenizer", ["whitespace", "char", "mixed"])
@pytest.mark.parametrize("lowercase", [False, True])
def test_python_and_graph_tokenizers_agree(tokenizer, lowercase):
    graph = tf_tokenize(tf.constant(TEXTS), tokenizer, lowercase).to_list()
    for text, tokens in zip(TEXTS, graph):
        assert [t.decode("utf-8") for t in tokens] == tokenize(text, tokenizer, lowercase), text


def test_char_tokens_of_the_running_example():
    assert tokenize("我想取消 昨天", "char") == ["我", "想", "取", "消", "昨", "天"]


def test_mixed_tokens_split_chinese_characters_and_keep_english_words():
    assert tokenize("Play Yesterday，然后取消 order。", "mixed", lowercase=True) == \
        ["play", "yesterday", "，", "然", "后", "取", "消", "order", "。"]


def test_unknown_tokenizer_names_the_choices():
    with pytest.raises(ValueError, match="whitespace, char, mixed"):
        tokenize("x", "bpe")
