"""Tests for the synthetic Chinese customer-service corpus generator."""

import json
import re

import pytest

from mtlflow.data.customer_service import (
    HELD_OUT_TEMPLATES,
    INTENTS,
    PREFIX_CUES,
    RARE_INTENT,
    SENTIMENTS,
    SLOT_TYPES,
    SUFFIX_CUES,
    TEMPLATE_EXAMPLE,
    TEMPLATES,
    generate,
    slot_spans,
    write_corpus,
)

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def corpus():
    """The default corpus (n=6000, seed=0), generated once for the module."""
    return generate()


def all_examples(corpus):
    return [example for split in SPLITS for example in corpus[split]]


def test_same_seed_same_corpus_and_other_seed_differs():
    assert generate(1000, seed=3) == generate(1000, seed=3)
    assert generate(1000, seed=3) != generate(1000, seed=4)


def test_sizes_close_to_n_and_split_80_10_10(corpus):
    sizes = {split: len(corpus[split]) for split in SPLITS}
    assert abs(sum(sizes.values()) - 6000) <= 300
    assert sizes["train"] == pytest.approx(4800, rel=0.05)
    assert sizes["validation"] == pytest.approx(600, rel=0.05)
    assert sizes["test"] == pytest.approx(600, rel=0.05)


def test_examples_have_the_documented_fields(corpus):
    for example in all_examples(corpus):
        assert set(example) == {"text", "tokens", "tags", "intent", "sentiment"}
        assert example["intent"] in INTENTS
        assert example["sentiment"] is None or example["sentiment"] in SENTIMENTS


def test_tokens_are_the_characters_and_tags_align(corpus):
    for example in all_examples(corpus):
        text = example["text"]
        assert not any(c.isspace() for c in text)
        assert example["tokens"] == [c for c in text if not c.isspace()] == list(text)
        assert len(example["tags"]) == len(example["tokens"])


def test_only_full_width_punctuation(corpus):
    for example in all_examples(corpus):
        for c in example["text"]:
            assert c.isalnum() or c in "，。？！", (c, example["text"])


def test_tags_are_valid_bio(corpus):
    for example in all_examples(corpus):
        previous = "O"
        for tag in example["tags"]:
            if tag != "O":
                prefix, slot = tag.split("-", 1)
                assert prefix in ("B", "I") and slot in SLOT_TYPES, tag
                if prefix == "I":
                    assert previous in (f"B-{slot}", f"I-{slot}"), example
            previous = tag


def test_every_split_has_every_intent_and_sentiment(corpus):
    for split in SPLITS:
        assert {e["intent"] for e in corpus[split]} == set(INTENTS), split
        assert {e["sentiment"] for e in corpus[split]} - {None} == set(SENTIMENTS), split


def test_rare_intent_is_rare_but_in_every_split(corpus):
    counts = {split: sum(e["intent"] == RARE_INTENT for e in corpus[split]) for split in SPLITS}
    assert 30 <= sum(counts.values()) <= 60
    assert all(count >= 3 for count in counts.values()), counts


def test_about_30_percent_unlabelled_sentiment(corpus):
    for split in SPLITS:
        share = sum(e["sentiment"] is None for e in corpus[split]) / len(corpus[split])
        assert 0.2 <= share <= 0.4, (split, share)
    fully_labelled = generate(500, unlabelled_sentiment=0.0)
    assert all(e["sentiment"] is not None for split in fully_labelled.values() for e in split)


def test_sentiment_is_expressed_by_cues(corpus):
    """Non-neutral rows contain a cue of their sentiment; neutral rows contain none."""
    cues = {  # prefix cues appear verbatim, suffix cues before an optional end mark
        sentiment: set(PREFIX_CUES[sentiment]) | set(SUFFIX_CUES[sentiment]) for sentiment in PREFIX_CUES
    }
    every_cue = set().union(*cues.values())
    for example in all_examples(corpus):
        sentiment, text = example["sentiment"], example["text"]
        if sentiment == "neutral":
            assert not any(cue in text for cue in every_cue), text
        elif sentiment is not None:
            assert any(cue in text for cue in cues[sentiment]), (sentiment, text)
        if example["intent"] == "complaint":
            assert sentiment != "satisfied"


def test_texts_are_unique_so_test_never_repeats_train(corpus):
    texts = {split: [e["text"] for e in corpus[split]] for split in SPLITS}
    assert not set(texts["train"]) & set(texts["test"])
    assert not set(texts["train"]) & set(texts["validation"])
    assert len(set().union(*map(set, texts.values()))) == sum(map(len, texts.values()))


def test_test_split_has_slot_values_never_seen_in_train(corpus):
    seen = {span for e in corpus["train"] for span in slot_spans(e)}
    novel = {span for e in corpus["test"] for span in slot_spans(e)} - seen
    novel_types = {slot for slot, _ in novel}
    assert {"date", "object", "product", "address"} <= novel_types, sorted(novel)[:20]


def test_held_out_templates_are_distinct_from_training_templates():
    assert set(HELD_OUT_TEMPLATES) == set(TEMPLATES) == set(INTENTS)
    for intent in INTENTS:
        assert not set(HELD_OUT_TEMPLATES[intent]) & set(TEMPLATES[intent])
        assert len(TEMPLATES[intent]) + len(HELD_OUT_TEMPLATES[intent]) >= 15


def test_running_example_shape_is_common_in_train(corpus):
    shaped = []
    for example in corpus["train"]:
        match = re.fullmatch(r"我想取消(.+)下的(.+?)。?", example["text"])
        if match and slot_spans(example) == [("date", match.group(1)), ("object", match.group(2))]:
            shaped.append(example)
    assert len(shaped) >= 60
    assert all(e["intent"] == "cancel_order" for e in shaped)
    train_spans = {span for e in corpus["train"] for span in slot_spans(e)}
    assert {("date", "昨天"), ("object", "订单")} <= train_spans
    assert TEMPLATE_EXAMPLE == "我想取消昨天下的订单"


def test_slot_spans_reads_bio_tags():
    example = {
        "tokens": list(TEMPLATE_EXAMPLE),
        "tags": ["O", "O", "O", "O", "B-date", "I-date", "O", "O", "B-object", "I-object"],
    }
    assert slot_spans(example) == [("date", "昨天"), ("object", "订单")]


def test_write_corpus_writes_readable_jsonl(tmp_path):
    paths = write_corpus(tmp_path / "cs", n=300, seed=1)
    assert set(paths) == set(SPLITS)
    expected = generate(300, seed=1)
    for split, path in paths.items():
        raw = path.read_text(encoding="utf-8")
        assert "\\u" not in raw  # Chinese is written as is, not escaped
        rows = [json.loads(line) for line in raw.splitlines()]
        assert rows == expected[split]
    assert "null" in paths["train"].read_text(encoding="utf-8")


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        generate(50)
    with pytest.raises(ValueError):
        generate(1000, unlabelled_sentiment=1.5)
