"""Tests for the data readers: happy paths, every user-caused bad file, skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlflow.data.csv_reader import read_csv
from mtlflow.data.jointbert_reader import read_jointbert
from mtlflow.data.jsonl_reader import read_jsonl
from mtlflow.data.readers import read_table
from mtlflow.errors import DataError

SNIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "snips"


def write(path: Path, content: str | bytes) -> Path:
    """Write ``content`` (text as UTF-8, bytes as given) to ``path``; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def write_jointbert(
    directory: Path, seq_in: str | bytes, seq_out: str | bytes, label: str | bytes | None = None
) -> Path:
    """Create a JointBERT directory with the given file contents."""
    write(directory / "seq.in", seq_in)
    write(directory / "seq.out", seq_out)
    if label is not None:
        write(directory / "label", label)
    return directory


# --- happy paths -------------------------------------------------------------


def test_csv_reads_header_rows_and_empty_cells(tmp_path):
    path = write(tmp_path / "train.csv", "text,label,score\nhello,greet,1\nbye,,\n")
    table = read_csv(path)
    assert table.source == str(path)
    assert table.columns == ["text", "label", "score"]
    assert table.rows == [
        {"text": "hello", "label": "greet", "score": "1"},
        {"text": "bye", "label": None, "score": None},
    ]
    assert table.locations == [f"{path}:2", f"{path}:3"]
    assert len(table) == 2 and table.skipped == []


def test_csv_quoted_newlines_keep_physical_line_numbers(tmp_path):
    content = 'text,label\n"line one\nline two\nline three",a\n\nplain,b\n"x, y",c\n'
    path = write(tmp_path / "train.csv", content)
    table = read_csv(path)
    assert [row["text"] for row in table.rows] == ["line one\nline two\nline three", "plain", "x, y"]
    assert table.locations == [f"{path}:2", f"{path}:6", f"{path}:7"]


def test_csv_bom_and_crlf(tmp_path):
    path = write(tmp_path / "train.csv", b"\xef\xbb\xbftext,label\r\nhi,a\r\n")
    table = read_csv(path)
    assert table.columns == ["text", "label"]
    assert table.rows == [{"text": "hi", "label": "a"}]


def test_tsv_delimiter_from_extension(tmp_path):
    path = write(tmp_path / "train.tsv", "text\tlabel\na, b\tx\n")
    assert read_table(path).rows == [{"text": "a, b", "label": "x"}]


def test_csv_explicit_delimiter(tmp_path):
    path = write(tmp_path / "train.csv", "text;label\nhi;a\n")
    assert read_table(path, delimiter=";").rows == [{"text": "hi", "label": "a"}]


def test_jsonl_union_of_columns_nulls_and_blank_lines(tmp_path):
    content = (
        '{"text": "hi", "label": "a"}\n'
        "\n"
        '{"text": "yo", "score": 0.5, "ok": true, "label": null}\n'
        '{"tokens": ["a", "b"], "tags": ["O", "B-x"]}\n'
    )
    path = write(tmp_path / "train.jsonl", b"\xef\xbb\xbf" + content.encode())
    table = read_jsonl(path)
    assert table.columns == ["text", "label", "score", "ok", "tokens", "tags"]
    assert table.rows[1] == {"text": "yo", "score": 0.5, "ok": True, "label": None}
    assert table.locations == [f"{path}:1", f"{path}:3", f"{path}:4"]


def test_jointbert_trailing_spaces_and_labels(tmp_path):
    directory = write_jointbert(
        tmp_path / "train",
        "play  some jazz \nhi\n",
        "O O B-genre \r\nO\n",
        "PlayMusic\nGreet\n",
    )
    table = read_jointbert(directory)
    assert table.columns == ["text", "tokens", "tags", "label"]
    assert table.rows[0] == {
        "text": "play some jazz",
        "tokens": ["play", "some", "jazz"],
        "tags": ["O", "O", "B-genre"],
        "label": "PlayMusic",
    }
    assert table.locations == [f"{directory}/seq.in:1", f"{directory}/seq.in:2"]


def test_jointbert_without_label_file(tmp_path):
    directory = write_jointbert(tmp_path / "train", "hi there\n", "O O\n")
    table = read_table(directory)
    assert table.columns == ["text", "tokens", "tags"]
    assert table.rows == [{"text": "hi there", "tokens": ["hi", "there"], "tags": ["O", "O"]}]


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("d.csv", "a,b\n1,2\n", {"a": "1", "b": "2"}),
        ("d.TAB", "a\tb\n1\t2\n", {"a": "1", "b": "2"}),
        ("d.json", '{"a": 1}\n', {"a": 1}),
        ("d.ndjson", '{"a": [1]}\n', {"a": [1]}),
    ],
)
def test_read_table_infers_format_from_extension(tmp_path, name, content, expected):
    assert read_table(write(tmp_path / name, content)).rows == [expected]


def test_read_table_explicit_format_overrides_extension(tmp_path):
    path = write(tmp_path / "data.txt", "a\tb\n1\t2\n")
    assert read_table(path, "tsv").rows == [{"a": "1", "b": "2"}]


# --- bad files -----------------------------------------------------------------


def _jointbert(seq_in: str, seq_out: str, label: str | bytes | None = None):
    return lambda tmp: write_jointbert(tmp / "snips", seq_in, seq_out, label)


def _file(name: str, content: str | bytes):
    return lambda tmp: write(tmp / name, content)


BAD_FILES = {
    # id: (make path under tmp_path, read_table kwargs, substrings the message must contain)
    "missing-file": (lambda tmp: tmp / "nope.csv", {}, ["nope.csv:", "does not exist"]),
    "missing-dir": (lambda tmp: tmp / "gone", {"format": "jointbert"}, ["gone:", "does not exist"]),
    "empty-csv": (_file("train.csv", ""), {}, ["train.csv:", "empty"]),
    "header-only-csv": (_file("train.csv", "text,label\n"), {}, ["train.csv:", "no data rows"]),
    "empty-jsonl": (_file("train.jsonl", "\n  \n"), {}, ["train.jsonl:", "empty"]),
    "bad-utf8": (
        _file("train.csv", b"text,label\nok,a\ncaf\xe9,b\n"),
        {},
        ["train.csv:3:", "invalid UTF-8", "byte offset 19"],
    ),
    "bad-utf8-jointbert": (
        _jointbert("a\nb\n", "O\nO\n", b"x\n\xff\n"),
        {},
        ["label:2:", "invalid UTF-8", "byte offset 2"],
    ),
    "binary-nul": (_file("train.jsonl", b'{"a": 1}\n\x89PNG\x00\x00\n'), {}, ["train.jsonl:2:", "NUL byte"]),
    "csv-too-many-fields": (
        _file("train.csv", "text,label\nok,a\nhello, world,b\n"),
        {},
        ["train.csv:3:", "expected 2 fields", "got 3"],
    ),
    "csv-too-few-fields-after-quoted-newline": (
        _file("train.csv", 'text,label\n"a\nb",x\nlonely\n'),
        {},
        ["train.csv:4:", "expected 2 fields", "got 1"],
    ),
    "csv-duplicate-column": (
        _file("train.csv", "text,label,text\na,b,c\n"),
        {},
        ["train.csv:1:", "duplicate column name 'text'"],
    ),
    "csv-empty-column": (_file("train.csv", "text,,label\na,b,c\n"), {}, ["train.csv:1:", "column 2", "no name"]),
    "csv-unclosed-quote": (
        _file("train.csv", 'text,label\nok,a\n"never closed,b\nmore,c\n'),
        {},
        ["train.csv:3:", "never closed"],
    ),
    "jsonl-invalid-json": (
        _file("train.jsonl", '{"text": "a"}\n{"text": "b",}\n'),
        {},
        ["train.jsonl:2:", "invalid JSON", "column"],
    ),
    "jsonl-not-object": (_file("train.jsonl", '{"a": 1}\n\n[1, 2]\n'), {}, ["train.jsonl:3:", "an array"]),
    "jsonl-number-line": (_file("train.jsonl", "42\n"), {}, ["train.jsonl:1:", "a number"]),
    "jsonl-tokens-not-list": (
        _file("train.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": "a b", "tags": ["O", "O"]}\n'),
        {},
        ["train.jsonl:2:", "'tokens' must be a list of strings"],
    ),
    "jsonl-tags-not-strings": (
        _file("train.jsonl", '{"tokens": ["a"], "tags": [1]}\n'),
        {},
        ["train.jsonl:1:", "'tags' must be a list of strings"],
    ),
    "jsonl-length-mismatch": (
        _file("train.jsonl", '{"tokens": ["a"], "tags": ["O"]}\n{"tokens": ["a", "b"], "tags": ["O"]}\n'),
        {},
        ["train.jsonl:2:", "2 items", "has 1"],
    ),
    "jointbert-line-counts": (
        _jointbert("a\nb\nc\n", "O\nO\n", "x\ny\nz\n"),
        {},
        ["seq.in:3:", "seq.out has no line 3", "seq.in has 3", "seq.out has 2"],
    ),
    "jointbert-label-longer": (
        _jointbert("a\n", "O\n", "x\ny\n"),
        {},
        ["label:2:", "seq.in and seq.out have no line 2", "label has 2"],
    ),
    "jointbert-tag-count": (
        _jointbert("a b\nplay some jazz\n", "O O\nO B-genre\n"),
        {},
        ["seq.in:2:", "3 tokens", "2 tags", "play some jazz", "O B-genre"],
    ),
    "jointbert-missing-seq-out": (
        lambda tmp: write(tmp / "snips" / "seq.in", "a\n").parent,
        {},
        ["snips:", "missing seq.out"],
    ),
    "jointbert-empty-utterance": (_jointbert("a\n   \n", "O\n\n"), {}, ["seq.in:2:", "empty utterance"]),
    "jointbert-empty-files": (_jointbert("", ""), {}, ["snips:", "seq.in is empty"]),
    "unknown-format": (_file("train.csv", "a\n1\n"), {"format": "xlsx"}, ["train.csv:", "'xlsx'", "jointbert"]),
    "unknown-extension": (_file("train.txt", "a\n1\n"), {}, ["train.txt:", "'.txt'", "data.format"]),
    "delimiter-for-jsonl": (_file("train.jsonl", '{"a": 1}\n'), {"delimiter": ","}, ["train.jsonl:", "delimiter"]),
}


@pytest.mark.parametrize(("make", "kwargs", "expected"), BAD_FILES.values(), ids=BAD_FILES.keys())
def test_bad_file_raises_data_error_with_location(tmp_path, make, kwargs, expected):
    path = make(tmp_path)
    with pytest.raises(DataError) as raised:
        read_table(path, **kwargs)
    message = str(raised.value)
    assert message.startswith(str(path)), message
    assert "\n" not in message
    for part in expected:
        assert part in message, message


def test_bad_on_bad_row_value(tmp_path):
    path = write(tmp_path / "train.csv", "a\n1\n")
    with pytest.raises(ValueError, match="'error', 'skip'"):
        read_table(path, on_bad_row="ignore")


# --- on_bad_row="skip" -----------------------------------------------------------


def test_skip_csv_records_bad_rows(tmp_path):
    path = write(tmp_path / "train.csv", "text,label\nok,a\ntoo,many,fields\nfine,b\n")
    table = read_table(path, on_bad_row="skip")
    assert [row["text"] for row in table.rows] == ["ok", "fine"]
    assert table.locations == [f"{path}:2", f"{path}:4"]
    assert [location for location, _ in table.skipped] == [f"{path}:3"]
    assert "expected 2 fields" in table.skipped[0][1]


def test_skip_jsonl_records_each_kind_of_bad_row(tmp_path):
    content = '{"a": 1}\nnot json\n[1]\n{"tokens": ["x"], "tags": []}\n{"a": 2}\n'
    path = write(tmp_path / "train.jsonl", content)
    table = read_table(path, on_bad_row="skip")
    assert table.rows == [{"a": 1}, {"a": 2}]
    assert table.columns == ["a"]
    assert [location for location, _ in table.skipped] == [f"{path}:2", f"{path}:3", f"{path}:4"]


def test_skip_jointbert_records_bad_rows(tmp_path):
    directory = write_jointbert(tmp_path / "train", "a b\n\nc d\ne\n", "O O\n\nO\nO\n", "x\ny\nz\nw\n")
    table = read_table(directory, on_bad_row="skip")
    assert [row["label"] for row in table.rows] == ["x", "w"]
    assert [location for location, _ in table.skipped] == [f"{directory}/seq.in:2", f"{directory}/seq.in:3"]


def test_skip_still_raises_for_whole_file_problems(tmp_path):
    directory = write_jointbert(tmp_path / "train", "a\nb\n", "O\n")
    with pytest.raises(DataError, match="seq.out has no line 2"):
        read_table(directory, on_bad_row="skip")


def test_skip_raises_when_every_row_is_bad(tmp_path):
    path = write(tmp_path / "train.jsonl", "[1]\n[2]\n")
    with pytest.raises(DataError, match=r"all 2 rows are invalid .* first: .*train\.jsonl:1:"):
        read_table(path, on_bad_row="skip")


# --- real data -------------------------------------------------------------------


@pytest.mark.skipif(not (SNIPS / "train").is_dir(), reason=f"SNIPS data not found at {SNIPS / 'train'}")
def test_reads_real_snips_train():
    table = read_table(SNIPS / "train")
    assert len(table) == 13_084
    assert table.skipped == []
    assert all(len(row["tokens"]) == len(row["tags"]) for row in table.rows)
    assert all(row["label"] for row in table.rows)


def test_plain_tsv_with_a_text_starting_with_a_quote_needs_quotes_off(tmp_path):
    from mtlflow.data.readers import read_table
    from mtlflow.errors import DataError

    path = tmp_path / "reviews.tsv"
    path.write_text('label\ttext_a\n1\t"好" 的酒店，还会再来\n0\t一般\n', "utf-8")
    with pytest.raises(DataError) as error:
        read_table(path)
    assert f"{path}:2" in str(error.value) and "data.quotes: false" in str(error.value)
    table = read_table(path, quotes=False)
    assert [r["text_a"] for r in table.rows] == ['"好" 的酒店，还会再来', "一般"]


@pytest.mark.skipif(not (Path(__file__).resolve().parents[2] / "shared/data/chnsenticorp/train.tsv").is_file(),
                    reason="../shared/data/chnsenticorp is not here")
def test_chnsenticorp_reads_as_plain_tsv():
    from mtlflow.data.readers import read_table

    table = read_table(Path(__file__).resolve().parents[2] / "shared/data/chnsenticorp/train.tsv", quotes=False)
    assert len(table.rows) == 9600 and set(r["label"] for r in table.rows) == {"0", "1"}
