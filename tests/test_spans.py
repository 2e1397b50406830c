import pytest

from mtlflow.evaluate.spans import span_texts, spans_from_tags, validate_tags


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ([], []),
        (["O", "O"], []),
        (["B-date", "I-date", "O"], [("date", 0, 2)]),
        # I- after O starts a chunk (conlleval leniency)
        (["O", "I-date", "I-date"], [("date", 1, 3)]),
        # I- at the very start starts a chunk
        (["I-loc", "O"], [("loc", 0, 1)]),
        # B-X B-X are two chunks
        (["B-loc", "B-loc"], [("loc", 0, 1), ("loc", 1, 2)]),
        # type change I-X I-Y closes X and opens Y
        (["I-loc", "I-per"], [("loc", 0, 1), ("per", 1, 2)]),
        (["B-loc", "I-per", "I-per"], [("loc", 0, 1), ("per", 1, 3)]),
        # trailing chunk at the end is closed
        (["O", "B-per", "I-per"], [("per", 1, 3)]),
        # plain tags are read as I-X
        (["loc", "loc", "O", "per"], [("loc", 0, 2), ("per", 3, 4)]),
        # hyphen inside the type is kept
        (["B-date-time", "I-date-time"], [("date-time", 0, 2)]),
    ],
)
def test_bio_spans(tags, expected):
    assert spans_from_tags(tags) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["S-loc"], [("loc", 0, 1)]),
        (["S-loc", "S-loc"], [("loc", 0, 1), ("loc", 1, 2)]),
        (["B-loc", "I-loc", "E-loc", "O"], [("loc", 0, 3)]),
        # E- closes: a following I- of the same type starts a new chunk
        (["B-loc", "E-loc", "I-loc"], [("loc", 0, 2), ("loc", 2, 3)]),
        (["B-loc", "E-loc", "E-loc"], [("loc", 0, 2), ("loc", 2, 3)]),
        # S- closes too
        (["S-loc", "E-loc"], [("loc", 0, 1), ("loc", 1, 2)]),
        (["S-loc", "I-loc"], [("loc", 0, 1), ("loc", 1, 2)]),
        # E- after O starts (and ends) a chunk
        (["O", "E-per"], [("per", 1, 2)]),
        # B- then S- : S- starts its own chunk
        (["B-per", "S-per"], [("per", 0, 1), ("per", 1, 2)]),
        # unclosed chunk at the end
        (["O", "B-per", "I-per"], [("per", 1, 3)]),
        (["B-per", "E-loc"], [("per", 0, 1), ("loc", 1, 2)]),
    ],
)
def test_bioes_spans(tags, expected):
    assert spans_from_tags(tags, scheme="bioes") == expected


def test_unknown_scheme_names_allowed_values():
    with pytest.raises(ValueError, match="'bio', 'bioes'"):
        spans_from_tags(["O"], scheme="iob2")
    with pytest.raises(ValueError, match="'bio', 'bioes'"):
        validate_tags(["O"], scheme="iob2")


def test_bioes_prefix_rejected_in_bio():
    with pytest.raises(ValueError, match="position 1"):
        spans_from_tags(["O", "S-loc"], scheme="bio")


def test_empty_type_rejected():
    with pytest.raises(ValueError, match="no chunk type"):
        spans_from_tags(["B-"])


@pytest.mark.parametrize(
    ("tags", "scheme", "message"),
    [
        (["B-date", "I-date", "O"], "bio", None),
        (["B-date", "B-date"], "bio", None),
        (["O", "O", "O", "I-date"], "bio", "I-date after O at position 3"),
        (["I-date"], "bio", "I-date after start of sequence at position 0"),
        (["B-loc", "I-per"], "bio", "I-per after B-loc at position 1"),
        (["B-loc", "I-loc"], "bio", None),
        (["O", "S-loc"], "bio", "S-loc at position 1 is not a bio tag"),
        (["B-loc", "I-loc", "E-loc", "S-per", "O"], "bioes", None),
        (["B-loc", "O"], "bioes", "O after B-loc at position 1"),
        (["B-loc", "B-loc", "E-loc"], "bioes", "B-loc after B-loc at position 1"),
        (["B-loc", "S-loc"], "bioes", "S-loc after B-loc at position 1"),
        (["O", "E-loc"], "bioes", "E-loc after O at position 1"),
        (["S-loc", "I-loc", "E-loc"], "bioes", "I-loc after S-loc at position 1"),
        (["O", "B-loc", "I-loc"], "bioes", "sequence ends after I-loc at position 2"),
        ([], "bioes", None),
    ],
)
def test_validate_tags(tags, scheme, message):
    assert validate_tags(tags, scheme) == message


def test_span_texts():
    tokens = ["明", "天", "去", "北", "京"]
    spans = spans_from_tags(["B-date", "I-date", "O", "B-loc", "I-loc"])
    assert span_texts(tokens, spans) == [("date", "明天"), ("loc", "北京")]
    assert span_texts(["New", "York"], [("loc", 0, 2)], joiner=" ") == [("loc", "New York")]


def test_span_texts_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        span_texts(["a"], [("x", 0, 2)])
