"""Every string is a valid input, alone or in any batch, for every encoder and both tag decoders.

Users of the customer-service bot send 「好」, an emoji, an empty message: batches in which no
text has more than one token used to fail inside the graph (a ``tf.scan`` or Keras' RNN loop
over zero steps). Hypothesis draws batches of arbitrary Unicode (empty, whitespace-only, one
character, zero-width and combining characters, emoji, mixed scripts, texts far longer than
``max_length``) for a demo-like model per encoder (BiLSTM with a char CNN, BiGRU with max
pooling, Transformer with attention pooling under MMoE sharing, pretrained BERT), each with
an intent, softmax-decoded slots and CRF-decoded slots (conditioned on the intent for the Transformer). Every batch must
give well-formed, finite outputs in process, the same answers for a text whatever shares its
batch, and the same outputs from the exported SavedModel run by plain TensorFlow (no mtlflow
imported).

The models are untrained (:mod:`untrained_export`): what a model accepts does not depend on
its weights. ``-m slow`` runs a longer profile of the same property.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from plain_tf import PlainTensorFlow, assert_same_outputs
from untrained_export import export_untrained

tf = pytest.importorskip("tensorflow")

MAX_LENGTH = 24
SMALL = {"embedding_dim": 16, "units": 8, "dropout": 0.1}
ENCODERS = {
    "bilstm": {"type": "bilstm", **SMALL, "char_cnn": {"dim": 8, "filters": 8, "widths": [2, 3], "max_chars": 6}},
    "bigru": {"type": "bigru", **SMALL, "pooling": "max"},
    "transformer": {"type": "transformer", **SMALL, "heads": 2, "ff_units": 16, "pooling": "attention"},
    "pretrained": {"type": "pretrained"},
}
SPECIAL_TEXTS = [
    "", " ", "   ", "\t\n\u3000", "好", "嗯", "？", "😀", "👍🏽", "🇨🇳", "👩‍👩‍👧",
    "\u200b", "\u200d", "\ufeff", "\u200b好\u200b", "e\u0301", "\x00",
    "我想取消昨天下的订单", "退货 refund 😡", "مرحبا بك", "Привет, мир", "ok", "订" * 400, "x " * 300,
]
texts = st.one_of(st.sampled_from(SPECIAL_TEXTS), st.text(max_size=12), st.text(min_size=30, max_size=200),
                  st.text(st.sampled_from("好嗯订单退款查 \u200b😀a1？"), max_size=10))
batches = st.lists(texts, min_size=1, max_size=6)
FAST = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LONG = settings(FAST, max_examples=100)


def _config(root, encoder: dict) -> dict:
    from importlib.resources import files

    config = yaml.safe_load(files("mtlflow.templates").joinpath("customer_service.yaml").read_text("utf-8"))
    config["inputs"]["text"]["max_length"] = MAX_LENGTH
    config["encoder"] = {**encoder, "path": str(root / "bert")} if encoder["type"] == "pretrained" else encoder
    config["tasks"] = [{"name": "intent", "type": "multiclass"},
                       {"name": "slots", "type": "tagging", "column": "tags", "scheme": "bio"},
                       {"name": "slots_crf", "type": "tagging", "column": "tags", "scheme": "bio", "decoder": "crf"}]
    if encoder["type"] == "transformer":  # also gated sharing over zero tokens, and tags conditioned on the intent
        config["sharing"] = {"type": "mmoe", "experts": 2, "expert_units": [8]}
        config["tasks"][2]["condition_on"] = "intent"
    return config


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small demo corpus (char-tokenised Chinese) and a tiny BERT whose vocabulary has its characters."""
    from bert_fixture import write_tiny_bert

    from mtlflow.data.customer_service import write_corpus

    root = tmp_path_factory.mktemp("any_text")
    write_corpus(root, n=120, seed=0)
    characters = sorted({c for line in (root / "train.jsonl").read_text("utf-8").splitlines() for c in line})
    # 16 positions: fewer pieces than MAX_LENGTH words, so long texts take the cut-off path
    write_tiny_bert(root / "bert", [c for c in characters if c.strip() and c.isprintable()], max_positions=16)
    return root


@pytest.fixture(scope="module")
def plain_tf():
    with PlainTensorFlow() as worker:
        yield worker


@pytest.fixture(scope="module", params=list(ENCODERS))
def model(request, corpus):
    if request.param == "pretrained":
        pytest.importorskip("keras_hub", reason="keras-hub is not installed (pip install 'mtlflow[pretrained]')")
    directory = corpus / request.param
    directory.mkdir()
    (directory / "config.yaml").write_text(yaml.safe_dump(_config(corpus, ENCODERS[request.param]), allow_unicode=True),
                                           "utf-8")
    for split in ("train", "validation", "test"):
        (directory / f"{split}.jsonl").symlink_to(corpus / f"{split}.jsonl")
    return export_untrained(directory / "config.yaml", directory / "run")


def _serve(module, batch: list[str]) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in module.serve({"text": tf.constant(batch, tf.string)}).items()}


def check_outputs(run, batch: list[str], out: dict[str, np.ndarray]) -> None:
    """Shapes, finite probabilities summing to 1, tags on real tokens only, spans inside the text."""
    n = len(batch)
    lengths = run.preprocessor.tokens(tf.constant(batch, tf.string)).row_lengths().numpy()
    assert (lengths <= MAX_LENGTH).all()
    intent = run.tasks["intent"]
    probabilities = out["intent_probabilities"]
    assert probabilities.shape == (n, len(intent.labels))
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [label.decode() for label in out["intent_label"]] == [intent.labels[i] for i in probabilities.argmax(1)]
    np.testing.assert_allclose(out["intent_score"], probabilities.max(1), rtol=1e-6)
    for name in ("slots", "slots_crf"):
        tags, scores = out[f"{name}_tags"], out[f"{name}_tag_scores"]
        assert tags.shape == scores.shape == (n, lengths.max(initial=0))
        real = np.arange(tags.shape[1])[None] < lengths[:, None]
        assert set(tags[real].tolist()) <= {t.encode() for t in run.tasks[name].labels}
        assert (tags[~real] == b"").all() and (scores[~real] == 0).all()
        assert np.isfinite(scores).all() and (scores >= 0).all() and (scores <= 1 + 1e-5).all()
        starts, ends = out[f"{name}_span_starts"], out[f"{name}_span_ends"]
        assert starts.shape == ends.shape == out[f"{name}_span_texts"].shape == out[f"{name}_span_types"].shape
        for i, length in enumerate(lengths):
            spans = starts[i] >= 0
            assert (ends[i][spans] <= length).all() and (starts[i][spans] < ends[i][spans]).all()
            if length == 0:  # an empty text: no spans, but every sentence-level prediction
                assert not spans.any()


def check_alone_equals_in_batch(run, module, batch: list[str], out: dict[str, np.ndarray]) -> None:
    """A text's decoded answer does not depend on the other texts of its batch (nor on their padding)."""
    for i, text in enumerate(batch):
        alone = _serve(module, [text])
        for name, task in run.tasks.items():
            _assert_close(task.decode(out, i), task.decode(alone, 0), f"{text!r}: {name}")


def _assert_close(got, want, where: str) -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            _assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, (list, tuple)):
        assert len(got) == len(want), where
        for a, b in zip(got, want):
            _assert_close(a, b, where)
    elif isinstance(want, float):
        assert abs(got - want) <= 1e-4 + 1e-4 * abs(want), f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def _property_test(profile):
    def test(model, plain_tf):
        run, export_dir, module = model
        seen = []

        @profile
        @given(batches)
        @example(["好"])
        @example([""])
        @example(["   "])
        @example(["好", "嗯"])
        @example(["", "   ", "😀", "\u200b"])
        @example(["好", "我想取消昨天下的订单", "", "订" * 400])
        def check(batch):
            out = _serve(module, batch)
            check_outputs(run, batch, out)
            check_alone_equals_in_batch(run, module, batch, out)
            seen.append((batch, out))

        check()
        served = plain_tf.serve(export_dir, [{"text": batch} for batch, _ in seen])
        for (batch, local), exported in zip(seen, served):
            assert_same_outputs(exported, local, where=f"{batch!r}: ")

    return test


test_any_text_batch_works_and_the_export_agrees = _property_test(FAST)
test_any_text_batch_long_profile = pytest.mark.slow(_property_test(LONG))


def test_truncation_follows_max_length(model):
    run, _, module = model
    out = _serve(module, ["订" * 400, "好"])
    assert out["slots_tags"].shape == (2, MAX_LENGTH)
    assert (out["slots_tags"][1, 1:] == b"").all()
