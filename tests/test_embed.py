"""``mtlflow embed``: every input row plus its text's sentence vector, from a local BERT."""

import json

import numpy as np
import pytest

pytest.importorskip("keras_hub", reason="keras-hub is not installed (pip install 'mtlflow[pretrained]')")
pytest.importorskip("safetensors", reason="safetensors is not installed (pip install 'mtlflow[pretrained]')")

from bert_fixture import numpy_bert, write_tiny_bert  # noqa: E402

from mtlflow.cli import main  # noqa: E402


def test_embed_writes_mean_pooled_vectors_in_file_order(tmp_path, capsys):
    bert = write_tiny_bert(tmp_path / "bert", ["play", "music", "weather", "in", "paris", "now"])
    (bert / "modules.json").write_text(json.dumps([{"type": "sentence_transformers.models.Transformer"},
                                                  {"type": "sentence_transformers.models.Normalize"}]))
    rows = [{"text": "play music now", "intent": "music"}, {"text": "weather", "intent": None},
            {"text": "Weather in Paris", "intent": "weather"}]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["embed", str(source), str(tmp_path / "out.jsonl"), "--encoder", str(bert), "--batch-size", "2"]) == 0
    assert "wrote 3 rows" in capsys.readouterr().out
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [{k: v for k, v in r.items() if k != "vector"} for r in out] == rows
    vocab = (bert / "vocab.txt").read_text().split("\n")
    for row in out:
        ids = np.array([[vocab.index(t) for t in ["[CLS]", *row["text"].lower().split(), "[SEP]"]]])
        expected = numpy_bert(bert, ids).mean(axis=1)[0]
        expected /= np.linalg.norm(expected)  # the checkpoint's Normalize module
        np.testing.assert_allclose(row["vector"], expected, atol=1e-5)
    assert not list(tmp_path.glob(".*partial"))


def test_embed_names_a_missing_column(tmp_path, capsys):
    bert = write_tiny_bert(tmp_path / "bert", ["a"])
    (tmp_path / "in.jsonl").write_text('{"utterance": "a"}\n')
    assert main(["embed", str(tmp_path / "in.jsonl"), str(tmp_path / "out.jsonl"), "--encoder", str(bert)]) == 2
    err = capsys.readouterr().err
    assert "no column 'text'; columns: utterance (pick one with --column)" in err
    assert not (tmp_path / "out.jsonl").exists()
