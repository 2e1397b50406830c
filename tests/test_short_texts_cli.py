"""「好」, an empty message, a blank one: ``mtlflow predict``, ``mtlflow evaluate`` and the REST server answer.

Batches in which no text has more than one token used to fail in the graph, so the CLI
printed a traceback and the server answered 400; with batching on, a request's fate
depended on which others shared its batch. Served here: the session's ``trained_synthetic``
run (conftest.py), whose texts are whitespace-tokenised, so 「好」 is one (unseen) token.
"""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mtlflow.cli import main
from mtlflow.serving import ModelConfig, ModelServer, ServerOptions
from test_serving_helpers import assert_outputs_equal, in_process, make_base

SHORT = ["", "   ", "好", "嗯", "😀", "\u200b"]


def test_predict_answers_one_character(trained_synthetic, capsys):
    run, _ = trained_synthetic
    assert main(["predict", str(run.directory), "好"]) == 0
    printed = capsys.readouterr().out
    assert "好" in printed and "topic" in printed and "(no spans)" in printed


def test_predict_answers_empty_and_blank_texts_from_the_model(trained_synthetic, capsys):
    run, _ = trained_synthetic
    assert main(["predict", str(run.directory), "", "   ", "好", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["input"]["text"] for line in lines] == ["", "   ", "好"]
    expected = in_process(run, ["", "   ", "好"])
    for i, line in enumerate(lines):
        prediction = line["prediction"]
        assert set(prediction) == set(run.tasks)
        assert prediction["tags"] == {"spans": [], "tags": [] if i < 2 else prediction["tags"]["tags"]}
        assert prediction["topic"]["label"] == expected["topic_label"][i].decode()  # the model's answer
        assert prediction["topic"]["score"] == pytest.approx(float(expected["topic_score"][i]), rel=1e-5)
    assert lines[0]["prediction"] == lines[1]["prediction"]  # no token either way


def test_evaluate_on_one_token_and_empty_texts(trained_synthetic, tmp_path, capsys):
    run, _ = trained_synthetic
    rows = [{"text": word, "topic": word if word in ("alpha", "beta") else "gamma", "colors": [], "flag": None,
             "score": 0.0, "tags": ["B-place" if word == "town" else "O"][:len(word.split())]}
            for word in ("alpha", "town", "beta", "好", "", "   ")]
    data = tmp_path / "short.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    assert main(["evaluate", str(run.directory), "--data", str(data), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["topic"]["count"] == 6 and 0.0 <= metrics["tags"]["f1"] <= 1.0


@pytest.fixture(scope="module")
def base(trained_synthetic, tmp_path_factory):
    return make_base(trained_synthetic[0], tmp_path_factory.mktemp("short") / "m")


def test_rest_answers_one_character(trained_synthetic, base):
    run, _ = trained_synthetic
    with ModelServer([ModelConfig("m", base)], ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0)) as server:
        url = server.rest_url + "/v1/models/m:predict"
        response = requests.post(url, json={"instances": ["好"]}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["predictions"][0]["tags_span_texts"] == []
        response = requests.post(url, json={"inputs": {"text": SHORT}}, timeout=30)
        assert response.status_code == 200, response.text
        assert_outputs_equal(response.json()["outputs"], in_process(run, SHORT))


def test_rest_with_batching_answers_short_texts_whatever_shares_their_batch(trained_synthetic, base):
    run, _ = trained_synthetic
    options = ServerOptions(rest_port=0, grpc_port=-1, poll_seconds=0, enable_batching=True, max_batch_size=16,
                            batch_timeout_micros=20_000)
    requests_ = [[text] for text in SHORT] + [["alpha xa xb town"], ["好", "嗯"]]
    with ModelServer([ModelConfig("m", base)], options) as server, requests.Session() as session:
        def call(batch):
            return session.post(server.rest_url + "/v1/models/m:predict", json={"inputs": {"text": batch}}, timeout=30)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(call, requests_ * 2))
    for batch, response in zip(requests_ * 2, responses):
        assert response.status_code == 200, (batch, response.text)
        assert_outputs_equal(response.json()["outputs"], in_process(run, batch))
