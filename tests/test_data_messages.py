"""Data messages point at the right file and line and say how to fix the problem.

Also: the tokenizer must reproduce pre-tokenised training tokens from the text a client
sends (CoNLL / JointBERT), or training stops naming the tokenizer to use.
"""

import codecs
import json

import pytest

from mtlflow.config import parse_config
from mtlflow.data.label_types import label_type_problem
from mtlflow.data.readers import read_table
from mtlflow.data.token_check import client_text, settle_tokenizer
from mtlflow.errors import DataError
from mtlflow.run import read_splits, settle_config_tokenizer
from mtlflow.tasks import create_task


def _raises(call, *phrases):
    with pytest.raises(DataError) as error:
        call()
    message = str(error.value)
    for phrase in phrases:
        assert phrase in message, message
    assert "\n" not in message
    return message


# ---- encodings ------------------------------------------------------------------------


@pytest.mark.parametrize("codec, bom", [("utf-16-le", codecs.BOM_UTF16_LE), ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_a_utf16_file_is_called_utf16_not_binary(tmp_path, codec, bom):
    path = tmp_path / "train.jsonl"
    path.write_bytes(bom + '{"text": "好", "label": "a"}\n'.encode(codec))
    message = _raises(lambda: read_table(path), "train.jsonl:1:", "UTF-16", "re-save it as UTF-8")
    assert "binary" not in message


def test_a_utf16_file_without_a_byte_order_mark_is_recognised(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes("text,label\r\nhello,a\r\n".encode("utf-16-le"))
    message = _raises(lambda: read_table(path), "train.csv:1:", "UTF-16", "re-save it as UTF-8")
    assert "binary" not in message


def test_a_real_binary_file_is_still_called_binary(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_bytes(b'{"a": 1}\n\x89PNG\x00\x00\x1a\n')
    _raises(lambda: read_table(path), "train.jsonl:2:", "NUL byte", "binary")


def test_a_utf8_byte_order_mark_is_accepted_in_every_format(tmp_path):
    bom = codecs.BOM_UTF8
    (tmp_path / "a.jsonl").write_bytes(bom + b'{"text": "x", "label": "a"}\n')
    (tmp_path / "a.csv").write_bytes(bom + b"text,label\nx,a\n")
    (tmp_path / "a.conll").write_bytes(bom + b"x O\ny B-t\n")
    jointbert = tmp_path / "jb"
    jointbert.mkdir()
    for name, text in (("seq.in", "x y\n"), ("seq.out", "O B-t\n"), ("label", "a\n")):
        (jointbert / name).write_bytes(bom + text.encode())
    assert read_table(tmp_path / "a.jsonl").rows[0]["text"] == "x"
    assert read_table(tmp_path / "a.csv").columns == ["text", "label"]
    assert read_table(tmp_path / "a.conll").rows[0]["tokens"] == ["x", "y"]
    assert read_table(jointbert).rows[0] == {"text": "x y", "tokens": ["x", "y"], "tags": ["O", "B-t"], "label": "a"}


# ---- JSON Lines -----------------------------------------------------------------------


def test_an_unterminated_string_says_where_it_starts_once(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "ok"}\n{"text": "cut\n', "utf-8")
    message = _raises(lambda: read_table(path), "train.jsonl:2:", "column 10", "cut off")
    assert "at at" not in message


def test_a_line_cut_off_at_its_end_names_the_end_not_column_1(tmp_path):
    line = '{"text": "hello", "label": "a"'
    path = tmp_path / "train.jsonl"
    path.write_text('{"text": "ok"}\n' + line + "\n", "utf-8")
    message = _raises(lambda: read_table(path), "train.jsonl:2:", f"column {len(line) + 1}", "cut off")
    assert "column 1;" not in message and "column 1 " not in message


def test_a_bad_character_inside_a_line_keeps_its_column(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text('{"a": 1,, "b": 2}\n', "utf-8")
    _raises(lambda: read_table(path), "train.jsonl:1:", "at column 9", "one complete JSON object")


# ---- JointBERT: a tag's error is reported in seq.out ------------------------------------


def _jointbert(tmp_path, tags_line):
    root = tmp_path / "snips"
    root.mkdir()
    (root / "seq.in").write_text("play some jazz\nplay music\n", "utf-8")
    (root / "seq.out").write_text(f"O O B-genre\n{tags_line}\n", "utf-8")
    (root / "label").write_text("PlayMusic\nPlayMusic\n", "utf-8")
    return root


def test_a_bad_tag_is_reported_in_seq_out_at_its_line(tmp_path):
    from mtlflow.data.encode import encode_table, fit_tasks

    root = _jointbert(tmp_path, "O X-genre")
    config = parse_config({"data": {"train": str(root)}, "inputs": {"text": {}},
                           "tasks": [{"name": "intent", "type": "multiclass", "column": "label"},
                                     {"name": "slots", "type": "tagging", "column": "tags"}]})
    tasks = {s.name: create_task(s) for s in config.tasks}
    table = read_table(root)
    fit_tasks(table, config, tasks)
    message = _raises(lambda: encode_table(table, config, tasks, "train"),
                      f"{root / 'seq.out'}:2:", "'X-genre'", "O or <prefix>-<type>")
    assert "seq.in" not in message


# ---- the tokenizer must reproduce pre-tokenised data -------------------------------------

CHINESE_CONLL = "我 O\n想 O\n听 O\n周 B-singer\n杰 I-singer\n伦 I-singer\n\n放 O\n首 O\n歌 O\n"


def _config(path, **text):
    return parse_config({"data": {"train": str(path)}, "inputs": {"text": text},
                         "tasks": [{"name": "slots", "type": "tagging", "column": "tags"}]})


def test_client_text_writes_chinese_without_spaces_and_words_with_them():
    assert client_text(["我", "想", "听", "Jay", "的", "歌"]) == "我想听 Jay 的歌"
    assert client_text(["fly", "to", "New\u2423York", "，", "ok"]) == "fly to New York ， ok"
    assert client_text(["find", "playstation官方杂志", "a", "song"]) == "find playstation官方杂志 a song"


def test_chinese_characters_under_an_explicit_whitespace_tokenizer_stop_training(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(CHINESE_CONLL, "utf-8")
    config = _config(path, tokenizer="whitespace")
    tasks = {s.name: create_task(s) for s in config.tasks}
    _raises(lambda: read_splits(config, tasks), f"{path}:1:", "'whitespace' tokenizer cannot reproduce",
            "'我想听周杰伦'", "set inputs.text.tokenizer: char")


def test_the_default_tokenizer_is_replaced_when_the_data_make_it_unambiguous(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(CHINESE_CONLL, "utf-8")
    config = _config(path)  # tokenizer left at its default, whitespace
    settled, note = settle_config_tokenizer(config, read_table(path))
    assert settled.inputs.text.tokenizer == "char"
    assert "using 'char'" in note and f"{path}:1" in note and "set inputs.text.tokenizer" in note


def test_mixed_chinese_and_english_tokens_need_the_mixed_tokenizer(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text("我 O\n想 O\n听 O\nJay B-singer\n的 O\n歌 O\n", "utf-8")
    _raises(lambda: settle_tokenizer(read_table(path), "char", explicit=True), f"{path}:1:",
            "'char' tokenizer", "set inputs.text.tokenizer: mixed")


def test_a_token_with_a_space_inside_names_how_to_split_it(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text("fly O\nto O\nNew York B-city\n", "utf-8")
    _raises(lambda: settle_tokenizer(read_table(path), "whitespace", explicit=False), f"{path}:1:",
            "'New York' holds a space", "one token per word", "`New B-x` then `York I-x`")


def test_word_segmented_chinese_says_to_write_one_token_per_character(tmp_path):
    root = tmp_path / "jb"
    root.mkdir()
    (root / "seq.in").write_text("我 想 听 周杰伦\n", "utf-8")
    (root / "seq.out").write_text("O O O B-singer\n", "utf-8")
    _raises(lambda: settle_tokenizer(read_table(root), "whitespace", explicit=False),
            f"{root / 'seq.in'}:1:", "'周杰伦' holds several CJK characters", "one token per character")


def test_space_separated_english_and_space_tokens_pass(tmp_path):
    english, chinese = tmp_path / "en.conll", tmp_path / "zh.conll"
    english.write_text("fly O\nto O\nBoston B-city\n", "utf-8")
    chinese.write_text("好 O\n  O\n的 O\n", "utf-8")  # "  O": a space token, which tokenizers drop
    assert settle_tokenizer(read_table(english), "whitespace", explicit=True) == ("whitespace", None)
    assert settle_tokenizer(read_table(chinese), "char", explicit=True) == ("char", None)
    jsonl = tmp_path / "train.jsonl"  # raw text a client wrote: never second-guessed
    jsonl.write_text(json.dumps({"text": "我 想", "tags": ["O", "O"]}) + "\n", "utf-8")
    assert settle_tokenizer(read_table(jsonl), "whitespace", explicit=True) == ("whitespace", None)


def test_label_type_rules_for_tag_columns():
    assert label_type_problem(["O", "B-x"], "tagging", typed=True) is None
    assert label_type_problem("O B-x", "tagging", typed=False) is None
    assert "got a number 3" in label_type_problem(3, "tagging", typed=True)
    assert "an array holding an object" in label_type_problem(["O", {}], "tagging", typed=True)
    assert label_type_problem(None, "multiclass", typed=True) is None  # null masks, never a type error


@pytest.mark.slow
def test_training_uses_and_records_the_tokenizer_it_chose(tmp_path, capsys):
    import yaml

    from mtlflow.run import train

    (tmp_path / "train.conll").write_text(CHINESE_CONLL, "utf-8")
    (tmp_path / "config.yaml").write_text(
        "data: {train: train.conll, validation_split: 0.0}\n"
        "inputs: {text: {}}\n"
        "encoder: {embedding_dim: 4, units: 4}\n"
        "tasks: [{name: slots, type: tagging, column: tags}]\n"
        "training: {epochs: 1, early_stopping: null}\n", "utf-8")
    run, _ = train(tmp_path / "config.yaml", tmp_path / "run", export=False)
    assert "inputs.text.tokenizer: using 'char'" in capsys.readouterr().out
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text("utf-8"))
    assert saved["inputs"]["text"]["tokenizer"] == "char"
    report = json.loads((tmp_path / "run" / "data_report.json").read_text("utf-8"))
    assert report["tokenizer"]["used"] == "char"
    spans = run.inference().predict({"text": ["我想听周杰伦"]})[0]["slots"]
    assert len(spans["tags"]) == 6  # the served model sees one token per character
