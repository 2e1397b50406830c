"""The `mtlflow init nlu` template trains on other corpora in both layouts, untuned.

* a generated English sample in JointBERT layout (its test split holds an intent unseen in
  training, scored as an error and counted in metrics.json);
* a generated Chinese sample in CoNLL BIOES (one character per line, intents in a side
  file), with the template changed only where its comments say, for Chinese.

Each is trained for a few epochs; its exported SavedModel, loaded by plain TensorFlow in a
fresh process, answers raw text (unspaced for Chinese) with an intent and per-token tags.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from export_parity import serve_in_fresh_process
from mtlflow.cli import main

EN_SLOTS = {"artist": ["adele", "miles davis", "the beatles"], "city": ["paris", "new york", "tokyo"],
            "date": ["today", "tomorrow", "next monday"]}
EN_FRAMES = {
    "PlayMusic": [["play", "some", "songs", "by", "{artist}"], ["put", "on", "{artist}"]],
    "GetWeather": [["weather", "in", "{city}", "{date}"], ["will", "it", "rain", "in", "{city}"]],
    "BookFlight": [["book", "a", "flight", "to", "{city}", "{date}"], ["fly", "me", "to", "{city}"]],
}
ZH_SLOTS = {"city": ["北京", "上海", "广州", "乌鲁木齐"], "date": ["明天", "今天", "下周一"],
            "artist": ["周杰伦", "王菲", "邓紫棋"], "count": ["两", "三", "四"]}
ZH_FRAMES = {
    "book_flight": ["帮我订{date}去{city}的{count}张机票", "我要去{city}"],
    "weather": ["{city}{date}天气怎么样", "{date}{city}下雨吗"],
    "play_music": ["播放{artist}的歌", "我想听{artist}"],
}


def _english(frame: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    tokens, tags = [], []
    for word in frame:
        if word.startswith("{"):
            slot = word[1:-1]
            value = rng.choice(EN_SLOTS[slot]).split()
            tokens += value
            tags += [f"B-{slot}"] + [f"I-{slot}"] * (len(value) - 1)
        else:
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def write_jointbert(root: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    for split, n in (("train", 150), ("dev", 30), ("test", 30)):
        rows = []
        for _ in range(n):
            intent = rng.choice(sorted(EN_FRAMES))
            rows.append((*_english(rng.choice(EN_FRAMES[intent]), rng), intent))
        if split == "test":  # an intent the training split lacks
            rows.append((["hello", "there"], ["O", "O"], "Greet"))
        (root / split).mkdir(parents=True)
        (root / split / "seq.in").write_text("".join(" ".join(t) + "\n" for t, _, _ in rows), "utf-8")
        (root / split / "seq.out").write_text("".join(" ".join(g) + "\n" for _, g, _ in rows), "utf-8")
        (root / split / "label").write_text("".join(i + "\n" for _, _, i in rows), "utf-8")


def _bioes(slot: str, n: int) -> list[str]:
    return [f"S-{slot}"] if n == 1 else [f"B-{slot}"] + [f"I-{slot}"] * (n - 2) + [f"E-{slot}"]


def _chinese(frame: str, rng: random.Random) -> tuple[list[str], list[str]]:
    chars, tags = [], []
    for i, part in enumerate(frame.replace("}", "{").split("{")):
        if i % 2:  # a slot name
            value = rng.choice(ZH_SLOTS[part])
            chars += list(value)
            tags += _bioes(part, len(value))
        else:
            chars += list(part)
            tags += ["O"] * len(part)
    return chars, tags


def write_conll(root: Path, seed: int = 1) -> None:
    rng = random.Random(seed)
    root.mkdir(parents=True)
    for split, n in (("train", 150), ("dev", 30), ("test", 30)):
        blocks, labels = [], []
        for _ in range(n):
            intent = rng.choice(sorted(ZH_FRAMES))
            chars, tags = _chinese(rng.choice(ZH_FRAMES[intent]), rng)
            blocks.append("".join(f"{c} {t}\n" for c, t in zip(chars, tags)))
            labels.append(intent)
        (root / f"{split}.txt").write_text("\n".join(blocks), "utf-8")
        (root / f"{split}.txt.labels").write_text("".join(l + "\n" for l in labels), "utf-8")


def _init(tmp_path: Path, name: str, capsys) -> tuple[Path, dict]:
    assert main(["init", "nlu", str(tmp_path / name)]) == 0
    assert "point its data paths" in capsys.readouterr().out
    path = tmp_path / name / "config.yaml"
    return path, yaml.safe_load(path.read_text("utf-8"))


def _train(path: Path, config: dict, run_dir: Path):
    from mtlflow.run import train

    config["training"]["epochs"] = 4  # a few epochs: the defaults must hold, not converge
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    return train(path, run_dir, verbose=False)


@pytest.mark.slow
def test_template_trains_on_english_jointbert_and_serves_raw_text(tmp_path, capsys):
    path, config = _init(tmp_path, "en", capsys)
    write_jointbert(path.parent / "data")
    run, metrics = _train(path, config, tmp_path / "run-en")
    assert metrics["intent"]["unseen_labels"] == {"split": "test", "rows": 1, "labels": {"Greet": 1},
                                                  "scored": "as errors"}
    assert metrics["intent"]["count"] == 31 and metrics["joint"]["count"] == 31
    assert metrics["intent"]["accuracy"] <= 30 / 31
    assert "Greet ×1" in (run.directory / "metrics.md").read_text("utf-8")

    served = serve_in_fresh_process(run.directory / "export" / "1", ["play some songs by adele", "weather in paris"])
    assert served["intent_label"][0] in EN_FRAMES and served["intent_label"][1] in EN_FRAMES
    tags = [t for t in served["slots_tags"][0] if t]
    assert len(tags) == 5 and all(t == "O" or t[:2] in ("B-", "I-") for t in tags)  # one BIO tag per word


@pytest.mark.slow
def test_template_trains_on_chinese_conll_bioes_and_serves_unspaced_text(tmp_path, capsys):
    path, config = _init(tmp_path, "zh", capsys)
    write_conll(path.parent / "data")
    # what the template's comments say to change for Chinese, and nothing else
    config["data"].update(format="conll", train="data/train.txt", validation="data/dev.txt", test="data/test.txt")
    config["inputs"]["text"].update(tokenizer="char", lowercase=False, max_length=64)
    config["encoder"]["char_cnn"] = None
    next(t for t in config["tasks"] if t["name"] == "slots")["scheme"] = "bioes"
    run, metrics = _train(path, config, tmp_path / "run-zh")
    assert metrics["slots"]["count"] == 30 and metrics["intent"]["unseen_labels"]["rows"] == 0
    assert metrics["intent"]["accuracy"] > 0.5  # three intents: chance is about 1/3

    text = "帮我订明天去上海的两张机票"
    served = serve_in_fresh_process(run.directory / "export" / "1", [text, "我想听王菲"])
    assert served["intent_label"][0] in ZH_FRAMES
    tags = [t for t in served["slots_tags"][0] if t]
    assert len(tags) == len(text)  # one tag per character of the raw, unspaced request
    assert all(t == "O" or t[:2] in ("B-", "I-", "E-", "S-") for t in tags)
    assert all(json.dumps(s, ensure_ascii=False) for s in served["slots_span_texts"][0])


@pytest.mark.parametrize("template", ["nlu", "snips"])
def test_templates_carry_the_recipe_chosen_on_snips_dev(template):
    """`mtlflow init nlu|snips` give the recipe of examples/snips.yaml (benchmarks/snips_tuning.md):
    a change to the example that is not carried to the templates fails here."""
    from importlib.resources import files

    example = yaml.safe_load((Path(__file__).parents[1] / "examples" / "snips.yaml").read_text("utf-8"))
    chosen = yaml.safe_load(files("mtlflow.templates").joinpath(f"{template}.yaml").read_text("utf-8"))
    for section in ("inputs", "encoder", "tasks", "training"):
        assert chosen[section] == example[section], f"templates/{template}.yaml `{section}` differs from examples/snips.yaml"
