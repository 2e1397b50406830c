"""ESMM vs a CVR model trained on clicked impressions only, on data whose true CVR is known.

Usage::

    python benchmarks/esmm.py [--seeds 0 1 2 3 4] [--impressions 200000] [--epochs 5]

Data: :func:`mtlflow.data.synthetic_ctr.ctr_cvr_synthetic` (8 numeric + 4 categorical
features; a conversion is observed only after a click, and the features that drive clicks
overlap with those that drive conversion, so clicked impressions are a biased sample), in
two worlds (``WORLDS``): *sparse* (~5% clicked, 1,000-valued ids, strong overlap: the
paper's data sparsity and selection bias) and *moderate* (200-valued ids, weaker overlap).
Train, validation and test splits are drawn from the same world with different seeds.
Two models, both from configs:

* **clicked-only CVR** (the paper's BASE): one binary task ``cvr`` on ``buy`` with
  ``where: click``, so it learns from clicked impressions only;
* **ESMM** (Ma et al., SIGIR 2018): ``ctr`` on ``click`` and ``ctcvr`` on ``buy`` over
  every impression, ``ctcvr`` declared ``product_of: [ctr, cvr]``, the ``cvr`` tower
  unsupervised (``weight: 0``), embeddings shared.

Both predict pCVR for every test impression; they are scored against what only a
synthetic world knows: AUC against ``conversion_true`` (would the impression convert if
clicked) over *all* impressions, and the mean absolute error against the true
``p_cvr``. Also reported, as the paper does: CVR AUC on clicked test impressions and
(ESMM) CTCVR AUC on all. Writes ``benchmarks/results/esmm.json`` and the "ESMM synthetic"
section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import replace_section  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "esmm.json"
SECTION = "## ESMM synthetic"
NUMERIC = [f"n{i}" for i in range(8)]
CATEGORICAL = [f"c{j}" for j in range(4)]
TOWER = [32, 16]
# Two regimes. "sparse": ~5% of impressions clicked, 4 × 1,000-valued ids, click and
# conversion driven by nearly the same direction (overlap 0.9) — the paper's setting of
# data sparsity plus selection bias. "moderate": ~4% clicked but 200-valued ids and a
# weaker overlap (0.7), where clicked impressions alone suffice.
WORLDS = {
    "sparse": {"cardinality": 1000, "ctr_bias": -6.0, "overlap": 0.9},
    "moderate": {"cardinality": 200, "ctr_bias": -6.0, "overlap": 0.7},
}


def configs(paths: dict, seed: int, epochs: int) -> dict[str, dict]:
    common = {
        "data": {"format": "csv", **{k: str(v) for k, v in paths.items()}},
        "inputs": {"numeric": NUMERIC, "categorical": CATEGORICAL},
        "encoder": {"categorical_dim": 8, "mlp": []},
        "training": {"epochs": epochs, "batch_size": 512, "learning_rate": 1e-3, "seed": seed,
                     "early_stopping": None, "steps_per_execution": 16},
        "export": {"base_dir": None},
    }
    return {
        "clicked_only": {**common, "tasks": [
            {"name": "cvr", "type": "binary", "column": "buy", "where": "click", "tower": TOWER}]},
        "esmm": {**common, "tasks": [
            {"name": "ctr", "type": "binary", "column": "click", "tower": TOWER},
            {"name": "cvr", "type": "binary", "column": "buy", "where": "click", "weight": 0.0, "tower": TOWER},
            {"name": "ctcvr", "type": "binary", "column": "buy", "product_of": ["ctr", "cvr"]}]},
    }


def scores(run, columns: dict) -> dict:
    import tensorflow as tf

    from mtlflow.evaluate.metrics import roc_auc

    raw = {c: tf.constant(columns[c].astype(np.float32)) for c in NUMERIC}
    raw.update({c: tf.constant(columns[c].astype(str)) for c in CATEGORICAL})
    outputs = run.inference().serve(raw)
    p_cvr = outputs["cvr_probability"].numpy()
    clicked = columns["click"] == 1
    result = {
        "cvr_auc_entire_space": roc_auc(columns["conversion_true"].astype(float), p_cvr),
        "cvr_mae_vs_true_p": float(np.abs(p_cvr - columns["p_cvr_true"]).mean()),
        "cvr_mean_bias": float((p_cvr - columns["p_cvr_true"]).mean()),
        "cvr_auc_clicked": roc_auc(columns["buy"][clicked].astype(float), p_cvr[clicked]),
    }
    if "ctcvr_probability" in outputs:
        result["ctcvr_auc"] = roc_auc(columns["buy"].astype(float), outputs["ctcvr_probability"].numpy())
        result["ctr_auc"] = roc_auc(columns["click"].astype(float), outputs["ctr_probability"].numpy())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--impressions", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    from mtlflow.data.synthetic_ctr import ctr_cvr_synthetic, write_csv
    from mtlflow.run import train

    began = time.perf_counter()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for (world, settings), seed in itertools.product(WORLDS.items(), args.seeds):
            sizes = {"train": args.impressions, "validation": args.impressions // 10, "test": args.impressions // 4}
            paths, test = {}, None
            for i, (split, n) in enumerate(sizes.items()):
                columns = ctr_cvr_synthetic(n, seed=1000 * seed + i, world_seed=seed, **settings)
                paths[split] = tmp / f"{split}-{seed}.csv"
                write_csv(columns, paths[split])
                test = columns
            for name, config in configs(paths, seed, args.epochs).items():
                path = tmp / f"{world}-{name}-{seed}.yaml"
                path.write_text(yaml.safe_dump(config), "utf-8")
                run, _ = train(path, tmp / f"run-{world}-{name}-{seed}", verbose=False, export=False)
                runs.append({"world": world, "model": name, "seed": seed, **scores(run, test)})
                print(json.dumps(runs[-1]), flush=True)
    summary: dict = {}
    for world, name in itertools.product(WORLDS, ("clicked_only", "esmm")):
        rows = [r for r in runs if r["model"] == name and r["world"] == world]
        summary.setdefault(world, {})[name] = {
            k: {"mean": statistics.fmean(r[k] for r in rows),
                "std": statistics.stdev([r[k] for r in rows]) if len(rows) > 1 else 0.0}
            for k in rows[0] if k not in ("world", "model", "seed")}
    import tensorflow as tf

    report = {
        "benchmark": "esmm", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/esmm.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__},
        "settings": {"worlds": WORLDS, "impressions": args.impressions, "epochs": args.epochs, "seeds": args.seeds, "tower": TOWER},
        "summary": summary, "runs": runs, "seconds": round(time.perf_counter() - began, 1),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(report, indent=1))
    replace_section(ROOT / "BENCHMARKS.md", SECTION, markdown(report))
    print(markdown(report))
    return 0


def markdown(report: dict) -> str:
    rows = [("pCVR AUC vs true conversion, all impressions ↑", "cvr_auc_entire_space"),
            ("pCVR mean abs. error vs true p_cvr, all impressions ↓", "cvr_mae_vs_true_p"),
            ("pCVR mean bias vs true p_cvr, all impressions", "cvr_mean_bias"),
            ("CVR AUC on clicked impressions (observed buys) ↑", "cvr_auc_clicked"),
            ("CTCVR AUC, all impressions ↑", "ctcvr_auc")]
    settings = report["settings"]
    lines = [
        SECTION, "",
        f"Command: `{report['command']}` ({report['date']}, {report['seconds']:.0f} s). "
        f"{settings['impressions']:,} training impressions per seed, {settings['epochs']} epochs; "
        f"mean ± std over seeds {settings['seeds']}. The synthetic world knows every impression's true "
        "conversion probability, so pCVR can be scored over the entire impression space, where it is used. "
        "Worlds (generator arguments): " + "; ".join(f"**{w}** `{json.dumps(v)}`" for w, v in settings["worlds"].items())
        + ".", "",
    ]
    for world, s in report["summary"].items():
        lines += [f"**{world}**", "", "| metric | clicked-only CVR | ESMM |", "|---|---:|---:|"]
        for label, key in rows:
            cells = [f"{s[m][key]['mean']:.4f} ± {s[m][key]['std']:.4f}" if key in s[m] else "—"
                     for m in ("clicked_only", "esmm")]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        auc = {m: s[m]["cvr_auc_entire_space"]["mean"] for m in ("clicked_only", "esmm")}
        better = "ESMM" if auc["esmm"] > auc["clicked_only"] else "the clicked-only model"
        lines += ["", f"In the {world} world {better} ranks conversions over all impressions better "
                  f"(pCVR AUC {auc['esmm']:.3f} ESMM vs {auc['clicked_only']:.3f} clicked-only).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
