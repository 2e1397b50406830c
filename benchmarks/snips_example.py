"""The SNIPS example config (`examples/snips.yaml`) on the real data, over several seeds.

Usage::

    python benchmarks/snips_example.py [--data ../shared/data/snips] [--seeds 1 2 3]

Trains the example (BiLSTM over word embeddings and character-CNN features from random
initialisation, joint intent + slots, constrained BIO CRF decoding) once per seed on the Goo et al. (2018) split, and reports the
test intent accuracy, slot span F1 (conlleval) and sentence accuracy (every slot and the
intent right) with their medians, next to published numbers for models of the same kind
(no pretrained weights). Writes ``benchmarks/results/snips_example.json`` and the
"SNIPS example" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
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
from _report import machine, replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "snips.yaml"
RESULT = ROOT / "benchmarks" / "results" / "snips_example.json"
SECTION = "## SNIPS example"
# Test-set numbers as published: Goo et al., NAACL 2018, Table 2 (intent acc, slot F1, sentence acc).
PUBLISHED = {
    "Joint Seq (Hakkani-Tür et al., 2016)": (96.9, 87.3, 73.2),
    "Attention BiRNN (Liu and Lane, 2016)": (96.7, 87.8, 74.1),
    "Slot-Gated full attention (Goo et al., 2018)": (97.0, 88.8, 75.5),
}


def run_seed(data: Path, seed: int, workdir: Path) -> dict:
    from mtlflow.run import train

    config = yaml.safe_load(EXAMPLE.read_text("utf-8"))
    config["data"].update(train=str(data / "train"), validation=str(data / "dev"), test=str(data / "test"))
    config["training"]["seed"] = seed
    path = workdir / f"snips-{seed}.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    began = time.perf_counter()
    run, metrics = train(path, workdir / f"run-{seed}", verbose=False, export=False)
    history = json.loads((workdir / f"run-{seed}" / "history.json").read_text())
    return {
        "seed": seed,
        "seconds": round(time.perf_counter() - began, 1),
        "epochs": len(history["epochs"]),
        "best_epoch": history["best_epoch"],
        "intent_accuracy": metrics["intent"]["accuracy"],
        "slot_f1": metrics["slots"]["f1"],
        "sentence_accuracy": metrics["joint"]["accuracy"],
    }


def markdown(result: dict) -> str:
    med = result["median"]
    lines = [
        SECTION,
        "",
        "Joint intent + slot filling on SNIPS (Goo et al., 2018 split: 13,084 train / 700 dev / 700 test), "
        "`examples/snips.yaml`: BiLSTM (128 units) over word embeddings (128, token dropout 0.1) and "
        "character-CNN word features (64 filters of width 3) from random initialisation, constrained BIO CRF, "
        "cosine learning-rate decay, early stopping on dev sentence accuracy (settings chosen on dev: "
        "benchmarks/snips_tuning.md). "
        "Test split; sentence accuracy = intent and every slot right.",
        "",
        "```",
        f"python benchmarks/snips_example.py --data {result['data_argument']} --seeds "
        + " ".join(str(r["seed"]) for r in result["runs"]),
        "```",
        "",
        f"Run of {result['date']}: {result['machine']}.",
        "",
        "| model | intent acc | slot F1 | sentence acc |",
        "|---|---:|---:|---:|",
        f"| **mtlflow `examples/snips.yaml`** (median of {len(result['runs'])} seeds) | "
        f"**{100 * med['intent_accuracy']:.1f}** | **{100 * med['slot_f1']:.1f}** | "
        f"**{100 * med['sentence_accuracy']:.1f}** |",
    ]
    for name, (intent, slot, sentence) in PUBLISHED.items():
        lines.append(f"| {name}, as published | {intent} | {slot} | {sentence} |")
    lines += ["", "| seed | intent acc | slot F1 | sentence acc | epochs (best) | seconds |", "|---:|---:|---:|---:|---:|---:|"]
    for r in result["runs"]:
        lines.append(f"| {r['seed']} | {100 * r['intent_accuracy']:.1f} | {100 * r['slot_f1']:.1f} | "
                     f"{100 * r['sentence_accuracy']:.1f} | {r['epochs']} ({r['best_epoch']}) | {r['seconds']} |")
    lines += ["", "The published rows are other implementations' numbers from their papers, not re-run here."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "snips"),
                        help="SNIPS in JointBERT layout (train/, dev/, test/ with seq.in, seq.out, label)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    data = Path(args.data).resolve()
    if not (data / "train" / "seq.in").is_file():
        print(f"no SNIPS data at {data} (expected train/seq.in); pass --data DIR", file=sys.stderr)
        return 2
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            runs.append(run_seed(data, seed, Path(tmp)))
            r = runs[-1]
            print(f"seed {seed}: intent {r['intent_accuracy']:.4f}  slot F1 {r['slot_f1']:.4f}  "
                  f"sentence {r['sentence_accuracy']:.4f}  ({r['seconds']} s, {r['epochs']} epochs)", flush=True)
    keys = ("intent_accuracy", "slot_f1", "sentence_accuracy")
    result = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
        "data_argument": os.path.relpath(data, ROOT) if data.is_relative_to(ROOT.parent) else str(data),
        "config": yaml.safe_load(EXAMPLE.read_text("utf-8")),
        "runs": runs,
        "median": {k: statistics.median(r[k] for r in runs) for k in keys},
        "published": {k: dict(zip(keys, v)) for k, v in PUBLISHED.items()},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=1), "utf-8")
    replace_section(ROOT / "BENCHMARKS.md", SECTION, markdown(result))
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
