"""The CoNLL reader: the format's corners, sentence labels, schemes, label policies, file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtlflow.config import parse_config
from mtlflow.data.conll_reader import SPACE_TOKEN, read_conll
from mtlflow.data.encode import encode_table, fit_tasks
from mtlflow.data.jointbert_reader import read_jointbert
from mtlflow.data.readers import read_table
from mtlflow.data.tokenize import tokenize
from mtlflow.errors import ConfigError, DataError
from mtlflow.tasks import create_task

TRAIN = """\
# intent: book
fly O
to O
paris B-city

# label = greet
hi O
"""


def write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode("utf-8"))
    return path


# ---- happy paths -------------------------------------------------------------------


def test_rows_have_the_jointbert_layout(tmp_path):
    conll = read_conll(write(tmp_path / "train.conll", TRAIN))
    joint = tmp_path / "joint"
    write(joint / "seq.in", "fly to paris\nhi\n")
    write(joint / "seq.out", "O O B-city\nO\n")
    write(joint / "label", "book\ngreet\n")
    assert conll.columns == ["text", "tokens", "tags", "label"]
    assert conll.rows == read_jointbert(joint).rows
    assert conll.locations == [f"{tmp_path / 'train.conll'}:2", f"{tmp_path / 'train.conll'}:7"]


def test_a_single_space_token_survives_both_tokenizers(tmp_path):
    path = write(tmp_path / "a.conll", "New B-city\n  I-city\nYork I-city\n\n我 O\n  O\n好 O\n")
    first, second = read_conll(path).rows
    assert first["tokens"] == ["New", SPACE_TOKEN, "York"] and first["tags"] == ["B-city", "I-city", "I-city"]
    assert tokenize(first["text"], "whitespace") == first["tokens"]
    assert tokenize(second["text"], "char") == ["我", SPACE_TOKEN, "好"] == second["tokens"]


def test_the_same_text_in_the_graph_tokenizer():
    import tensorflow as tf

    from mtlflow.data.tokenize import tf_tokenize

    text = f"New {SPACE_TOKEN} York"
    for kind in ("whitespace", "char"):
        graph = [t.decode() for t in tf_tokenize(tf.constant([text]), kind).to_list()[0]]
        assert graph == tokenize(text, kind)


def test_the_tag_is_after_the_last_space_and_inner_spaces_become_visible(tmp_path):
    path = write(tmp_path / "a.conll", "New York B-city\r\ngo\tO   \r\n")
    row = read_conll(path).rows[0]
    assert row["tokens"] == [f"New{SPACE_TOKEN}York", "go"] and row["tags"] == ["B-city", "O"]


def test_comments_labels_hash_tokens_and_docstart(tmp_path):
    content = ("-DOCSTART- O\n\n# sent_id = 1\n# text = # rocks\n# intent: praise\n# O\n#music B-topic\nrocks O\n"
               "\n# newdoc\n-DOCSTART- -X- -X- O\n\nno O\nlabel O\n")
    table = read_conll(write(tmp_path / "a.conll", content))
    assert [r["tokens"] for r in table.rows] == [["#", "#music", "rocks"], ["no", "label"]]
    assert [r["label"] for r in table.rows] == ["praise", None]
    assert table.locations[0].endswith(":6")


def test_side_file_labels_one_per_sentence(tmp_path):
    path = write(tmp_path / "dev.conll", "a O\n\nb O\n\n\nc B-x\n")
    write(tmp_path / "dev.conll.labels", "first\n\nthird\n")
    assert [r["label"] for r in read_conll(path).rows] == ["first", None, "third"]


def test_without_any_label_there_is_no_label_column(tmp_path):
    assert read_conll(write(tmp_path / "a.conll", "a O\n")).columns == ["text", "tokens", "tags"]


def test_bioes_tags_encode_under_the_bioes_scheme(tmp_path):
    path = write(tmp_path / "train.conll", "in O\nnew B-city\nyork E-city\nnow S-date\n")
    config, tasks = make_tasks(path, scheme="bioes")
    split = encode_table(read_table(path, "conll"), config, tasks, "train")
    assert tasks["tags"].labels == ["O", "B-city", "E-city", "S-date"]
    assert split.labels["tags"][0].tolist() == [0, 1, 2, 3]


def test_bioes_tags_under_the_bio_scheme_name_the_line_and_the_fix(tmp_path):
    path = write(tmp_path / "train.conll", "\n\nin O\nnow S-date\n")
    with pytest.raises(DataError, match=rf"{path}:3: task 'tags': tag 'S-date' .*scheme: bioes"):
        make_tasks(path, scheme="bio", encode=True)


def test_format_is_inferred_from_the_suffix_and_accepted_by_the_config(tmp_path):
    path = write(tmp_path / "train.conll", TRAIN)
    assert read_table(path).rows == read_table(path, "conll").rows
    assert parse_config(config_dict(path)).data.format == "conll"
    with pytest.raises(ConfigError, match="'conll'"):
        parse_config({**config_dict(path), "data": {"train": "x", "format": "conl"}})


# ---- labels seen only in a dev file: data.on_bad_label ----------------------------------

DEV = "fly O\nto O\nrome B-town\n\n# intent: book\nhi O\n"


def config_dict(train: Path, on_bad_label: str = "error", scheme: str = "bio") -> dict:
    return {
        "data": {"format": "conll", "train": str(train), "on_bad_label": on_bad_label},
        "inputs": {"text": {"tokenizer": "whitespace"}},
        "tasks": [{"name": "tags", "type": "tagging", "scheme": scheme},
                  {"name": "intent", "type": "multiclass", "column": "label"}],
    }


def make_tasks(train: Path, on_bad_label: str = "error", scheme: str = "bio", encode: bool = False):
    config = parse_config(config_dict(train, on_bad_label, scheme))
    if not read_table(train, "conll").columns.count("label"):
        config.tasks.pop()
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(train, "conll")
    fit_tasks(table, config, tasks)
    if encode:
        encode_table(table, config, tasks, "train")
    return config, tasks


def test_unseen_dev_labels_are_errors_with_file_and_line(tmp_path):
    config, tasks = make_tasks(write(tmp_path / "train.conll", TRAIN))
    dev = write(tmp_path / "dev.conll", DEV)
    write(tmp_path / "dev.conll.labels", "travel\nbook\n")
    with pytest.raises(DataError, match=rf"{dev}:1: task 'tags': unknown label 'B-town' .*on_bad_label: mask"):
        encode_table(read_table(dev), config, tasks, "dev")
    write(dev, DEV.replace("B-town", "B-city"))
    with pytest.raises(DataError, match=rf"{dev}:1: task 'intent': unknown label 'travel'"):
        encode_table(read_table(dev), config, tasks, "dev")


def test_unseen_dev_labels_are_masked_and_counted_with_on_bad_label_mask(tmp_path):
    config, tasks = make_tasks(write(tmp_path / "train.conll", TRAIN), on_bad_label="mask")
    dev = write(tmp_path / "dev.conll", DEV)
    write(tmp_path / "dev.conll.labels", "travel\nbook\n")
    split = encode_table(read_table(dev), config, tasks, "dev")
    assert split.masks["tags"].tolist() == [0.0, 1.0] and split.masks["intent"].tolist() == [0.0, 1.0]
    issues = split.issues["labels"]
    assert issues["tags"]["bad"] == 1 and "B-town" in issues["tags"]["messages"][0]
    assert issues["intent"]["bad"] == 1 and f"{dev}:1" in issues["intent"]["messages"][0]


# ---- malformed files: file:line, or skipped with on_bad_row: skip ----------------------


@pytest.mark.parametrize("content, line, message", [
    ("a O\nhello\n", 2, "expected `token tag`"),
    ("a O\n O\n", 2, "empty token"),
    ("a O\n# label = x\nb O\n", 2, "label comment inside a sentence"),
    ("# label = x\n# intent: y\na O\n", 2, "second label comment"),
    ("a O\n\n# label = x\n\nb O\n", 3, "no sentence after it"),
])
def test_malformed_lines_name_the_file_and_line(tmp_path, content, line, message):
    path = write(tmp_path / "bad.conll", content)
    with pytest.raises(DataError, match=rf"^{path}:{line}: .*{message}"):
        read_conll(path)


def test_skipping_a_bad_sentence_keeps_the_side_file_aligned(tmp_path):
    path = write(tmp_path / "bad.conll", "a O\n\nbroken\nline O\n\nc O\n")
    write(tmp_path / "bad.conll.labels", "x\ny\nz\n")
    table = read_conll(path, on_bad_row="skip")
    assert [(r["tokens"], r["label"]) for r in table.rows] == [(["a"], "x"), (["c"], "z")]
    assert table.skipped[0][0] == f"{path}:3"


def test_side_file_problems_name_their_line(tmp_path):
    path = write(tmp_path / "a.conll", "a O\n\nb O\n")
    side = write(tmp_path / "a.conll.labels", "x\n")
    with pytest.raises(DataError, match=rf"{side}:2: 1 labels for 2 sentences"):
        read_conll(path)
    write(path, "# intent: x\na O\n\n# intent: q\nb O\n")
    write(side, "x\ny\n")
    with pytest.raises(DataError, match=rf"{path}:4: label 'q' disagrees with {side}:2"):
        read_conll(path)


def test_empty_and_comment_only_files_are_errors(tmp_path):
    for content in ("", "\n\n# just a comment\n"):
        with pytest.raises(DataError, match="no sentences"):
            read_conll(write(tmp_path / "empty.conll", content))
