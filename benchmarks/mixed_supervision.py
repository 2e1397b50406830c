"""Mixed supervision: intent + slots from SNIPS and sentiment from ChnSentiCorp, in one model.

Usage::

    python benchmarks/mixed_supervision.py [--snips ../shared/data/snips]
        [--chnsenticorp ../shared/data/chnsenticorp] [--seeds 1 2 3]
    python benchmarks/mixed_supervision.py --tune NAME [--set tasks.1.weight=2 ...]
        [--models joint slots] [--seeds 1]

No example carries all three labels: SNIPS utterances (English) have an intent and slot
tags, ChnSentiCorp reviews (Chinese) a sentiment. The two corpora are written as one JSON
Lines file per split with ``null`` for the labels a row lacks, so each task's loss is
masked to its own rows (``examples/mixed_supervision.yaml``: one ``mixed`` tokenizer, so
English words and Chinese characters are tokens of one vocabulary, and one shared BiLSTM).
The three-task model is compared with three single-task models of the same size (same
encoder, budget and seed), each trained on the rows that carry its label. Each model keeps
the epoch that is best on dev by its own measure: a single-task model by its task's headline
metric, the three-task model by ``joint.mean_score`` (the mean of the three headline
metrics), never by the summed loss, which the task with the largest loss dominates. Writes
``benchmarks/results/mixed_supervision.json`` and the "Mixed supervision" section of
BENCHMARKS.md. Seeds already in the results file for the same configuration are kept, so
seeds can run in separate processes (``--seeds 1`` beside ``--seeds 2``) and land in one table.

``--tune NAME`` is how the settings are chosen: it trains the chosen ``--models`` with the
``--set`` overrides (dotted key paths into the example, YAML values, applied before a
single-task model drops the other tasks) and scores the **dev** split only (the test split
is not read), appending one row per model and seed, with its dev curve, to
``benchmarks/results/mixed_supervision_tuning.json``, shown in the same section.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import locked, machine, replace_section, save, write_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "mixed_supervision.yaml"
RESULT = ROOT / "benchmarks" / "results" / "mixed_supervision.json"
TUNING = ROOT / "benchmarks" / "results" / "mixed_supervision_tuning.json"
SECTION = "## Mixed supervision"
SPLITS = {"train": ("train", "train.tsv"), "validation": ("dev", "dev.tsv"), "test": ("test", "test.tsv")}
HEADLINE = {"intent": "accuracy", "slots": "f1", "sentiment": "accuracy"}


def mixed_tags(words: list[str], tags: list[str]) -> list[str]:
    """One tag per ``mixed`` token: a word the tokenizer splits (a few SNIPS words are Chinese,
    "官方杂志") keeps its tag on its first token; the rest continue its span (``I-``) or stay ``O``."""
    from mtlflow.data.tokenize import tokenize

    out = []
    for word, tag in zip(words, tags):
        pieces = tokenize(word, "mixed") or [word]
        out += [tag] + [("I-" + tag[2:]) if tag != "O" else "O"] * (len(pieces) - 1)
    return out


def snips_rows(directory: Path) -> list[dict]:
    texts = (directory / "seq.in").read_text("utf-8").splitlines()
    tags = (directory / "seq.out").read_text("utf-8").splitlines()
    labels = (directory / "label").read_text("utf-8").splitlines()
    return [{"text": t, "intent": i, "tags": mixed_tags(t.split(), g.split()), "sentiment": None}
            for t, g, i in zip(texts, tags, labels)]


def chnsenticorp_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [{"text": r["text_a"], "intent": None, "tags": None,
                 "sentiment": "positive" if r["label"] == "1" else "negative"} for r in reader]


def write_splits(snips: Path, chnsenticorp: Path, out: Path) -> dict[str, dict[str, str]]:
    """``{corpus: {split: path}}`` for ``both``, ``snips`` and ``chnsenticorp`` JSONL files."""
    paths: dict[str, dict[str, str]] = {"both": {}, "snips": {}, "chnsenticorp": {}}
    for split, (snips_dir, tsv) in SPLITS.items():
        parts = {"snips": snips_rows(snips / snips_dir), "chnsenticorp": chnsenticorp_rows(chnsenticorp / tsv)}
        parts["both"] = parts["snips"] + parts["chnsenticorp"]
        for corpus, rows in parts.items():
            path = out / f"{corpus}-{split}.jsonl"
            path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
            paths[corpus][split] = str(path)
    return paths


def variant(paths: dict[str, str], seed: int, tasks: list[str], overrides: tuple[str, ...] = ()) -> dict:
    from snips_tuning import apply_override

    config = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    config.pop("profiles", None)
    for assignment in overrides:  # before the task filter, so tasks.N indexes the example's tasks
        apply_override(config, assignment)
    config["data"].update(paths)
    config["tasks"] = [t for t in config["tasks"] if t["name"] in tasks]
    config["training"]["seed"] = seed
    if len(tasks) == 1:
        config["training"]["early_stopping"]["monitor"] = f"{tasks[0]}.{HEADLINE[tasks[0]]}"
    return config


def run(config: dict, workdir: Path, name: str) -> dict:
    from mtlflow.run import train

    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    print(f"{name}: training ({', '.join(t['name'] for t in config['tasks'])})", flush=True)
    began = time.perf_counter()
    _, metrics = train(path, workdir / name, verbose=True, export=False)  # a line per epoch
    seconds = round(time.perf_counter() - began, 1)
    history = json.loads((workdir / name / "history.json").read_text())
    print(f"{name}: " + "  ".join(f"{t}.{m} {metrics[t][m]:.4f}" for t, m in HEADLINE.items() if t in metrics)
          + f"  ({seconds} s, {len(history['epochs'])} epochs)", flush=True)
    curve = {t: [round(e["validation"][t][m], 4) for e in history["epochs"]]
             for t, m in HEADLINE.items() if t in metrics}
    return {"seconds": seconds, "epochs": len(history["epochs"]), "best_epoch": history["best_epoch"],
            "metrics": {t: {m: metrics[t][m]} for t, m in HEADLINE.items() if t in metrics},
            "dev_curve": curve}


def _mean_std(values: list[float]) -> str:
    mean = 100 * statistics.fmean(values)
    return f"{mean:.2f} ± {100 * statistics.stdev(values):.2f}" if len(values) > 1 else f"{mean:.2f}"


def markdown(result: dict) -> str:
    seeds = result["seeds"]
    runs = result["runs"]  # {seed: {model: run}}
    training = result["config"]["training"]
    monitor = training["early_stopping"]["monitor"]
    schedule = (f"{training['epochs']} epochs at batch {training['batch_size']}, learning rate "
                f"{training['learning_rate']}"
                + (f" with {training['learning_rate_schedule']} decay" if training.get("learning_rate_schedule") else "")
                + f", patience {training['early_stopping']['patience']}")
    lines = [
        SECTION, "",
        "One model, three tasks, no example labelled for all: intent + slots from SNIPS (13,084 English "
        "utterances), sentiment from ChnSentiCorp (9,600 Chinese reviews), merged into one file with `null` "
        "for missing labels (each loss masked to its rows). `examples/mixed_supervision.yaml`: `mixed` "
        "tokenizer, shared BiLSTM; single-task models use the same encoder, budget and seed, trained on "
        f"their own corpus ({schedule}). The three-task model keeps its best dev epoch by `{monitor}`, each single-task "
        "model by its own headline metric. Test splits (700 SNIPS, 1,200 ChnSentiCorp).", "",
        "```", f"python benchmarks/mixed_supervision.py --snips {result['snips']} "
        f"--chnsenticorp {result['chnsenticorp']} --seeds {' '.join(map(str, seeds))}", "```", "",
        f"Run of {result['date']}: {result['machine']}.", "",
        f"Test metrics, mean ± sample std over {len(seeds)} seed(s); the change is the mean of the per-seed "
        "differences (same seed on both sides).", "",
        "| task | metric | three-task model | single-task model | change | within noise |",
        "|---|---|---:|---:|---:|---|",
    ]
    for task, metric in HEADLINE.items():
        multi = [runs[str(s)]["joint"]["metrics"][task][metric] for s in seeds]
        single = [runs[str(s)][task]["metrics"][task][metric] for s in seeds]
        change = [m - o for m, o in zip(multi, single)]
        noise = max(statistics.stdev(multi), statistics.stdev(single)) if len(seeds) > 1 else None
        verdict = "n/a (1 seed)" if noise is None else ("yes" if abs(statistics.fmean(change)) <= noise else "no")
        lines.append(f"| {task} | {metric} | {_mean_std(multi)} | {_mean_std(single)} | "
                     f"{100 * statistics.fmean(change):+.2f} | {verdict} |")
    lines += ["", "\"Within noise\": the mean change is no larger than the seed-to-seed standard deviation of "
              "either model.", "", "| seed | model | epochs (best) | seconds |", "|---:|---|---:|---:|"]
    for seed in seeds:
        for name, r in runs[str(seed)].items():
            lines.append(f"| {seed} | {name} | {r['epochs']} ({r['best_epoch']}) | {r['seconds']} |")
    return "\n".join(lines + tuning_markdown())


def tuning_markdown() -> list[str]:
    rows = json.loads(TUNING.read_text("utf-8")) if TUNING.is_file() else []
    if not rows:
        return []
    lines = ["", "Dev-only tuning runs of `python benchmarks/mixed_supervision.py --tune NAME --set KEY=VALUE ... "
             "--models M ... --seeds N` (changes from the example as it was at the time; dev metrics of the kept "
             "epoch; the test split is not read):", "",
             "| # | run | change | seed | model | intent acc | slot F1 | sentiment acc | epochs (best) | seconds |",
             "|---:|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for i, r in enumerate(rows, 1):
        change = "<br>".join(f"`{c}`" for c in r["changes"]) or "(as is)"
        cells = [f"{100 * r['metrics'][t][m]:.2f}" if t in r["metrics"] else "" for t, m in HEADLINE.items()]
        lines.append(f"| {i} | {r['name']} | {change} | {r['seed']} | {r['model']} | {' | '.join(cells)} | "
                     f"{r['epochs']} ({r['best_epoch']}) | {r['seconds']} |")
    return lines


def models_to_run(models: list[str]) -> list[tuple[str, str, list[str]]]:
    """``(model, corpus, tasks)`` for each of ``models`` (``joint`` or a task name)."""
    out = []
    for model in models:
        if model == "joint":
            out.append(("joint", "both", list(HEADLINE)))
        else:
            out.append((model, "chnsenticorp" if model == "sentiment" else "snips", [model]))
    return out


def tune(name: str, overrides: list[str], models: list[str], seeds: list[int], snips: Path,
         chnsenticorp: Path) -> None:
    """Dev-only runs with ``overrides``; appends a row per model and seed to ``TUNING``."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = write_splits(snips, chnsenticorp, workdir)
        for corpus in paths.values():
            corpus["test"] = corpus["validation"]  # never read the test split while choosing
        for seed in seeds:
            for model, corpus, tasks in models_to_run(models):
                r = run(variant(paths[corpus], seed, tasks, tuple(overrides)), workdir, f"{model}-{seed}")
                row = {"name": name, "changes": list(overrides), "seed": seed, "model": model, **r}
                with locked(TUNING):
                    rows = json.loads(TUNING.read_text("utf-8")) if TUNING.is_file() else []
                    write_json(TUNING, rows + [row])
                print(json.dumps(row, ensure_ascii=False), flush=True)
    if RESULT.is_file():
        replace_section(ROOT / "BENCHMARKS.md", SECTION, markdown(json.loads(RESULT.read_text("utf-8"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    shared = ROOT.parent / "shared" / "data"
    parser.add_argument("--snips", default=str(shared / "snips"), help="SNIPS in JointBERT layout")
    parser.add_argument("--chnsenticorp", default=str(shared / "chnsenticorp"), help="train/dev/test.tsv")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--no-write", action="store_true", help="print only; keep results and BENCHMARKS.md")
    parser.add_argument("--tune", metavar="NAME", help="dev-only tuning run with the --set overrides")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument("--models", nargs="+", default=["joint", *HEADLINE], choices=["joint", *HEADLINE],
                        help="with --tune: which models to train (default: all four)")
    args = parser.parse_args(argv)
    snips, chnsenticorp = Path(args.snips).resolve(), Path(args.chnsenticorp).resolve()
    if not (snips / "train" / "seq.in").is_file() or not (chnsenticorp / "train.tsv").is_file():
        print(f"need SNIPS at {snips} (train/seq.in) and ChnSentiCorp at {chnsenticorp} (train.tsv); "
              "pass --snips and --chnsenticorp", file=sys.stderr)
        return 2
    if args.overrides and not args.tune:
        parser.error("--set needs --tune NAME: the seeded test runs train the example as it is")
    if args.tune:
        tune(args.tune, args.overrides, args.models, args.seeds, snips, chnsenticorp)
        return 0
    rel = lambda p: os.path.relpath(p, ROOT) if p.is_relative_to(ROOT.parent) else str(p)  # noqa: E731
    write = not args.no_write
    config = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = write_splits(snips, chnsenticorp, workdir)
        for seed in args.seeds:  # per seed the four models in turn: noise lands on all
            per_seed = {}
            for model, corpus, tasks in models_to_run(["joint", *HEADLINE]):
                per_seed[model] = run(variant(paths[corpus], seed, tasks), workdir, f"{model}-{seed}")
            # written after every seed, so a run cut short keeps the seeds it finished; seeds that
            # another process (or an earlier run) measured with the same configuration are kept
            with locked(RESULT):
                stored = json.loads(RESULT.read_text("utf-8")) if write and RESULT.is_file() else {}
                runs = stored.get("runs", {}) if stored.get("config") == config else {}
                if stored and not runs:
                    print(f"{RESULT.name} held runs of another configuration of the example: replaced", flush=True)
                runs[str(seed)] = per_seed
                seeds = sorted(int(k) for k in runs)
                result = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "machine": machine(),
                          "snips": rel(snips), "chnsenticorp": rel(chnsenticorp), "seeds": seeds,
                          "config": config, "runs": {str(k): runs[str(k)] for k in seeds}}
                save(result, markdown(result), RESULT if write else None,
                     ROOT / "BENCHMARKS.md" if write else None, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
