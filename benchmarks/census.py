"""Census-income (MMoE paper, group 1): single-task vs Shared-Bottom vs MMoE vs PLE vs cross-stitch,
and DeepCTR's MMOE and PLE on the very same split, features, batch and epochs.

Usage::

    nice -n 5 python benchmarks/census.py [--data ../shared/data/census-income/census-income.test.gz]
        [--seeds 0 1 2 3] [--epochs 10] [--steps-per-execution 16]
        [--deepctr-python /work/venvs/deepctr/bin/python]

Only the public *test* file of Census-Income (KDD) is available, so it is split 50/25/25
with seed 0 (train / validation / test); every model sees the same split. Tasks: income
> 50K (main) and marital status = never married (auxiliary); education and marital
status are removed from the inputs. Inputs: 7 standardised numeric columns and 31
categorical columns with a 4-d embedding each. Every model trains a fixed number of
epochs (no early stopping) with Adam (lr 1e-3), batch 512; AUC on the test quarter.

How speed is compared, so that both sides do the same work under the same conditions:

- every run is a fresh process (``_mtlflow_census.py``, ``_deepctr_census.py``), on the same
  TensorFlow build;
- mtlflow and DeepCTR run with the same ``steps_per_execution`` (``--steps-per-execution``);
  DeepCTR also runs at its default of 1, labelled ``_spe1``;
- each run times its epochs itself, wall clock and process CPU time, around the training
  steps only; the speed is over epochs 2..E (steady state): reading the data, building the
  features and the input pipeline, and the first epoch's tracing are left out on both sides;
- the runs of one seed are interleaved per pair (mtlflow MMoE, then its DeepCTR peers, ...),
  in reverse order on every other seed (ABBA), so slow spells of the shared machine fall on
  both sides; the load average is recorded before and after every run;
- the ratio of a pair is taken per seed (peer seconds / mtlflow seconds, > 1: mtlflow is
  faster), for wall clock and CPU time; the CPU-time ratio is the one to trust when other
  processes share the machine.

DeepCTR runs in its own virtual environment and is skipped when ``--deepctr-python`` does
not exist::

    python3 -m venv --system-site-packages /work/venvs/deepctr
    /work/venvs/deepctr/bin/pip install --no-deps deepctr==0.9.4   # uses the same TensorFlow 2.21

Writes ``benchmarks/results/census.json`` and the "Census-income" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "census.json"
SECTION = "## Census-income"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "census-income" / "census-income.test.gz"
TASKS = ("income", "never_married")
# Comparable capacity: MMoE's 8 experts × 16 units ≈ 18k weights in the sharing layer;
# Shared-Bottom 128 units and cross-stitch columns of 64 hold about as many.
SHARING = {
    "single_task": {"type": "none", "units": [128]},
    "shared_bottom": {"type": "hard", "units": [128]},
    "mmoe": {"type": "mmoe", "experts": 8, "expert_units": [16]},
    "ple": {"type": "ple", "levels": 2, "shared_experts": 2, "task_experts": 2, "expert_units": [16]},
    "cross_stitch": {"type": "cross_stitch", "units": [64]},
}
PEERS = ("mmoe", "ple")  # the architectures DeepCTR has too
# Published on the full data (Ma et al., KDD 2018, Table 2): AUC best / mean over 400 runs.
PAPER = {"mmoe": {"income": (0.9410, 0.9359), "never_married": (0.9926, 0.9927)},
         "shared_bottom": {"income": (0.9361, 0.9295)}}


def config(paths: dict, sharing: dict, seed: int, epochs: int, steps_per_execution: int) -> dict:
    from mtlflow.data.census import CATEGORICAL, NUMERIC

    return {
        "data": {"format": "csv", "train": str(paths["train"]), "validation": str(paths["validation"]),
                 "test": str(paths["test"])},
        "inputs": {"numeric": NUMERIC, "categorical": CATEGORICAL},
        "encoder": {"categorical_dim": 4, "mlp": []},
        "sharing": sharing,
        "tasks": [{"name": t, "type": "binary", "tower": [8]} for t in TASKS],
        "training": {"epochs": epochs, "batch_size": 512, "learning_rate": 1e-3, "seed": seed,
                     "early_stopping": None, "clip_norm": None, "steps_per_execution": steps_per_execution},
        "export": {"base_dir": None},
    }


def schedule(models: list[str], deepctr: bool, steps_per_execution: int) -> list[dict]:
    """One seed's runs, each mtlflow model beside its DeepCTR peers: ``[{label, side, model, spe}]``."""
    runs = []
    for name in models:
        runs.append({"label": name, "side": "mtlflow", "model": name, "spe": steps_per_execution})
        if deepctr and name in PEERS:
            runs.append({"label": f"deepctr_{name}", "side": "deepctr", "model": name, "spe": steps_per_execution})
            if steps_per_execution != 1:
                runs.append({"label": f"deepctr_{name}_spe1", "side": "deepctr", "model": name, "spe": 1})
    return runs


def run_one(run: dict, paths: dict, seed: int, epochs: int, workdir: Path, deepctr_python: str) -> dict:
    """Runs one contender in a fresh process; returns its JSON line plus the load averages around it."""
    from mtlflow.data.census import CATEGORICAL, NUMERIC

    if run["side"] == "mtlflow":
        path = workdir / f"{run['label']}-{seed}.yaml"
        path.write_text(yaml.safe_dump(config(paths, SHARING[run["model"]], seed, epochs, run["spe"])), "utf-8")
        command = [sys.executable, str(ROOT / "benchmarks" / "_mtlflow_census.py"), "--config", str(path),
                   "--out", str(workdir / f"{run['label']}-{seed}"), "--label", run["label"], "--seed", str(seed)]
    else:
        command = [deepctr_python, str(ROOT / "benchmarks" / "_deepctr_census.py"),
                   "--data-dir", str(paths["train"].parent), "--model", run["model"], "--label", run["label"],
                   "--seed", str(seed), "--epochs", str(epochs), "--steps-per-execution", str(run["spe"]),
                   "--numeric", ",".join(NUMERIC), "--categorical", ",".join(CATEGORICAL)]
    before = os.getloadavg()[0]
    out = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if out.returncode != 0:
        raise RuntimeError(f"{run['label']} (seed {seed}) failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if len(result["epochs"]) != epochs:
        raise RuntimeError(f"{run['label']}: {len(result['epochs'])} epochs timed, expected {epochs}")
    result.update(side=run["side"], load_before=round(before, 2), load_after=round(os.getloadavg()[0], 2))
    steady = result["epochs"][1:]
    result["steady"] = {"wall": sum(e["wall"] for e in steady), "cpu": sum(e["cpu"] for e in steady)}
    result["first_epoch_wall"] = result["epochs"][0]["wall"]
    return result


def summarise(results: list[dict], examples: int) -> dict:
    """Per contender: steady-state throughput (wall and CPU), first epoch, AUC mean ± std, max."""
    table = {}
    for label in dict.fromkeys(r["model"] for r in results):
        rows = [r for r in results if r["model"] == label]
        epochs = len(rows[0]["epochs"]) - 1
        entry = {"runs": len(rows), "side": rows[0]["side"], "steps_per_execution": rows[0]["steps_per_execution"],
                 "examples_per_second": statistics.median(examples * epochs / r["steady"]["wall"] for r in rows),
                 "examples_per_cpu_second": statistics.median(examples * epochs / r["steady"]["cpu"] for r in rows),
                 "first_epoch_seconds": statistics.median(r["first_epoch_wall"] for r in rows),
                 "parameters": rows[0]["parameters"]}
        for t in TASKS:
            values = [r["auc"][t] for r in rows]
            entry[t] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                        "max": max(values)}
        table[label] = entry
    return table


def ratios(results: list[dict]) -> dict:
    """``{"mmoe vs deepctr_mmoe": {...}}``: per seed, peer steady-state seconds / mtlflow's (> 1:
    mtlflow is faster), wall clock and CPU time; median and range over seeds."""
    out = {}
    for a in results:
        if a["side"] != "mtlflow":
            continue
        for b in results:
            if b["side"] == "deepctr" and b["seed"] == a["seed"] and b["model"].startswith(f"deepctr_{a['model']}"):
                entry = out.setdefault(f"{a['model']} vs {b['model']}", {
                    "mtlflow_steps_per_execution": a["steps_per_execution"],
                    "deepctr_steps_per_execution": b["steps_per_execution"], "wall": [], "cpu": [], "seeds": []})
                entry["seeds"].append(a["seed"])
                entry["wall"].append(b["steady"]["wall"] / a["steady"]["wall"])
                entry["cpu"].append(b["steady"]["cpu"] / a["steady"]["cpu"])
    for entry in out.values():
        for clock in ("wall", "cpu"):
            entry[f"{clock}_median"] = statistics.median(entry[clock])
            entry[f"{clock}_range"] = [min(entry[clock]), max(entry[clock])]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps-per-execution", type=int, default=16)
    parser.add_argument("--models", nargs="+", default=list(SHARING), choices=list(SHARING))
    parser.add_argument("--deepctr-python", default="/work/venvs/deepctr/bin/python")
    parser.add_argument("--cache", type=Path, default=ROOT / "benchmarks" / ".cache" / "census")
    args = parser.parse_args()
    if args.epochs < 3:
        parser.error("--epochs: at least 3 (the first epoch is left out of the speed)")
    from mtlflow.data.census import prepare_census

    paths = prepare_census(args.data, args.cache, seed=0)
    examples = sum(1 for _ in open(paths["train"], encoding="utf-8")) - 1
    deepctr = Path(args.deepctr_python).exists()
    if not deepctr:
        print(f"{args.deepctr_python}: not found; DeepCTR is left out (see the setup in this script's docstring)")
    # the pairs first, so that their runs are adjacent; reversed on every other seed (ABBA)
    models = [m for m in args.models if m in PEERS] + [m for m in args.models if m not in PEERS]
    order = schedule(models, deepctr, args.steps_per_execution)
    load_start = os.getloadavg()
    results, sequence = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, seed in enumerate(args.seeds):
            for run in (order if i % 2 == 0 else order[::-1]):
                results.append(run_one(run, paths, seed, args.epochs, Path(tmp), args.deepctr_python))
                sequence.append(f"{run['label']}/{seed}")
                r = results[-1]
                print(json.dumps({"model": r["model"], "seed": seed, "spe": r["steps_per_execution"],
                                  "steady_wall": round(r["steady"]["wall"], 2), "steady_cpu": round(r["steady"]["cpu"], 2),
                                  "auc": r["auc"], "load": r["load_before"]}), flush=True)
    import tensorflow as tf

    report = {
        "benchmark": "census", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "nice -n 5 python benchmarks/census.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "load_average": {"start": [round(x, 2) for x in load_start], "end": [round(x, 2) for x in os.getloadavg()]},
        "data": "census-income.test.gz only (99,762 rows), split 50/25/25 with seed 0",
        "train_examples": examples, "epochs": args.epochs, "steady_state_epochs": [2, args.epochs],
        "seeds": args.seeds, "batch_size": 512,
        "steps_per_execution": {"mtlflow": args.steps_per_execution,
                                "deepctr": sorted({args.steps_per_execution, 1}) if deepctr else []},
        "interleaving": "per seed, each mtlflow model followed by its DeepCTR peers; the order reversed on every "
                        "other seed (ABBA); every run a fresh process",
        "sequence": sequence, "sharing": SHARING, "summary": summarise(results, examples),
        "ratios": ratios(results), "runs": results, "paper_full_data": PAPER,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1) + "\n")
    replace_section(ROOT / "BENCHMARKS.md", SECTION, markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    s, r = report["summary"], report["ratios"]
    loads = [x["load_before"] for x in report["runs"]] + [x["load_after"] for x in report["runs"]]
    first, last = report["steady_state_epochs"]
    lines = [
        SECTION, "",
        f"Command: `{report['command']}` ({report['date']}). Data: {report['data']} — the training file of "
        "Census-Income (KDD) is not available here, so the numbers are not comparable digit for digit with the "
        "paper's. Tasks: income > 50K (main), never married (auxiliary); education and marital status removed "
        f"from the inputs. {report['epochs']} epochs, Adam 1e-3, batch {report['batch_size']}, no early stopping; "
        f"test AUC over seeds {report['seeds']} (mean ± std, max).", "",
        f"Speed: every run is a fresh process that times its own epochs around the training steps; examples/s "
        f"is over epochs {first}–{last} (steady state: data loading, input-pipeline construction and the first "
        "epoch's tracing left out on both sides), median over seeds, by wall clock and by process CPU time. "
        f"mtlflow runs {report['steps_per_execution']['mtlflow']} steps per execution, DeepCTR the same "
        "and, labelled `_spe1`, its default of 1. Runs are interleaved per seed, each mtlflow model beside its "
        "DeepCTR peers, in reverse order on every other seed (ABBA). Load average during the run: "
        f"{min(loads):.2f}–{max(loads):.2f} on {report['machine']['cpus']} CPUs (the machine is shared; the "
        "CPU-time numbers are the ones other processes disturb least).", "",
        "| model | steps / execution | income AUC | never-married AUC | examples/s | examples / CPU-s | "
        "first epoch (s) | parameters |",
        "|---|---:|---|---|---:|---:|---:|---:|",
    ]
    for name, e in s.items():
        lines.append(f"| {name} | {e['steps_per_execution']} | {e['income']['mean']:.4f} ± {e['income']['std']:.4f} "
                     f"(max {e['income']['max']:.4f}) | {e['never_married']['mean']:.4f} ± "
                     f"{e['never_married']['std']:.4f} | {e['examples_per_second']:,.0f} | "
                     f"{e['examples_per_cpu_second']:,.0f} | {e['first_epoch_seconds']:.1f} | {e['parameters']:,} |")
    if r:
        lines += ["", "Speed ratios, per seed paired (DeepCTR's steady-state seconds / mtlflow's; > 1: mtlflow is "
                  "faster), median and range over seeds:", "",
                  "| pair | steps / execution (mtlflow, DeepCTR) | wall clock | CPU time |", "|---|---|---:|---:|"]
        for pair, e in r.items():
            lines.append(f"| {pair} | {e['mtlflow_steps_per_execution']}, {e['deepctr_steps_per_execution']} | "
                         f"{e['wall_median']:.2f}× ({e['wall_range'][0]:.2f}–{e['wall_range'][1]:.2f}) | "
                         f"**{e['cpu_median']:.2f}×** ({e['cpu_range'][0]:.2f}–{e['cpu_range'][1]:.2f}) |")
    lines.append("")
    runs = report["runs"]
    for a, b in (("mmoe", "deepctr_mmoe"), ("mmoe", "shared_bottom"), ("mmoe", "single_task"),
                 ("ple", "deepctr_ple"), ("ple", "shared_bottom")):
        pairs = [(x["auc"]["income"], y["auc"]["income"]) for x in runs for y in runs
                 if x["model"] == a and y["model"] == b and x["seed"] == y["seed"]]
        if pairs:
            diffs = [x - y for x, y in pairs]
            lines.append(f"{a} − {b}, income AUC paired by seed: {statistics.fmean(diffs):+.4f} "
                         f"(better on {sum(d > 0 for d in diffs)} of {len(diffs)} seeds).")
    if "mmoe vs deepctr_mmoe" in r:
        same = r["mmoe vs deepctr_mmoe"]
        default = r.get("mmoe vs deepctr_mmoe_spe1")
        auc = (s["mmoe"]["income"]["mean"], s["deepctr_mmoe"]["income"]["mean"])
        lines += ["", f"**Findings.** mtlflow's MMoE (income AUC {auc[0]:.4f}, DeepCTR's {auc[1]:.4f}) trained at "
                  f"{same['cpu_median']:.2f}× DeepCTR "
                  f"MMOE's examples per CPU-second with both at {same['mtlflow_steps_per_execution']} steps per "
                  f"execution ({same['wall_median']:.2f}× by wall clock)"
                  + (f", and at {default['cpu_median']:.2f}× ({default['wall_median']:.2f}× wall) against DeepCTR at "
                     "its default of 1" if default else "") + ". "
                  "The models are the same size (8 experts × 16 units, 4-d embeddings, towers of 8); the difference "
                  "is how the step is laid out: mtlflow keeps the 31 categorical columns' embeddings in one table "
                  "read by one gather (ids shifted by each column's offset), so the backward pass and Adam update "
                  "one variable instead of 31, and evaluates all experts with one einsum per layer instead of one "
                  "Dense layer each. The arithmetic of the step is the same on both sides; the gain is fewer, larger "
                  "operations per step."]
    lines += ["", "DeepCTR runs in its own virtual environment, outside the repository, on the same TensorFlow: "
              "`python3 -m venv --system-site-packages /work/venvs/deepctr && /work/venvs/deepctr/bin/pip install "
              "--no-deps deepctr==0.9.4` (its version check at import is answered offline by "
              "`benchmarks/_deepctr_census.py`; `--deepctr-python` points elsewhere)."]
    lines += ["", "Paper anchors (full training file, not comparable): MMoE income AUC 0.9410 best / 0.9359 mean, "
              "never-married 0.9926 / 0.9927; Shared-Bottom income 0.9361 / 0.9295."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
