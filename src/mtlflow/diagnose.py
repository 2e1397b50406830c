"""``mtlflow diagnose RUN_DIR``: a negative-transfer report from a run's gradient diagnostics.

The trainer measures, on every ``training.diagnostics_every``-th step (and on every step
where the balancer reads them), the per-task gradients ``g_t`` of the shared parameters
and writes their epoch means to ``history.json`` under ``epochs[i]["balance"]``: the
pairwise cosine ``cos(g_i, g_j)``, the share of steps on which it was negative (the
*conflict rate*), each norm over the mean norm, and the balancer's task weights
(:mod:`mtlflow.train.gradient_stats`). This module reads them back and says where tasks
pull the shared trunk apart:

* a pair **conflicts** when the evidence says so: at least ``MIN_MEASURED_STEPS`` measured
  steps, and either the 95% interval of its mean cosine over those steps lies below 0, or
  the 95% (Wilson) interval of its conflict rate lies above 0.5 (a step along one task's
  gradient raises the other's loss). The interval is ``mean ± 1.96 · sd / √n`` with ``sd`` the
  cosine's standard deviation over the steps (from the per-epoch mean of ``cos²``; histories
  written before it was recorded use the largest ``sd`` a cosine with that mean can have,
  ``√(1 - mean²)``). The steps are treated as independent draws, which successive steps
  are not quite: the interval is a guide, not a test;
* a task **dominates** when its gradient norm is more than 2× the mean norm of the other
  tasks (``r_t / mean_{j≠t} r_j`` of the stored ratios ``r_t = ‖g_t‖ / mean_j ‖g_j‖``;
  the stored ratio itself cannot exceed 2 with two tasks, nor T with T).

It writes ``diagnose.md`` and ``diagnose.png`` into the run directory (cosine heatmaps
averaged over the run and of the last measured epoch, the conflict rate per pair, the
task weights and the norm ratios over epochs) and prints a short summary.

Example::

    from mtlflow.diagnose import diagnose
    report = diagnose("runs/demo")      # also writes runs/demo/diagnose.{md,png}
    report["conflicting_pairs"]         # [{"tasks": ["intent", "sentiment"], "mean_cosine": -0.12, ...}]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from mtlflow.errors import MtlflowError

CONFLICT_RATE = 0.5
"""A pair whose gradients point apart on more than this share of measured steps conflicts."""
MIN_MEASURED_STEPS = 30
"""Fewer measured steps than this are too few to call any pair conflicting."""
Z_95 = 1.96
"""The normal quantile of the two-sided 95% intervals."""
DOMINANCE = 2.0
"""A task whose gradient norm exceeds this multiple of the other tasks' mean norm dominates."""

_HOW_TO_MEASURE = (
    "set `training.diagnostics_every` to a number of steps (e.g. 25, the default; it measures the task "
    "gradients' cosine on those steps) and train again"
)


def read_history(run_dir: str | Path) -> dict:
    """``history.json`` of ``run_dir``; a clear error when there is none."""
    path = Path(run_dir) / "history.json"
    if not path.is_file():
        hint = "" if (Path(run_dir) / "config.yaml").is_file() else " (not a run directory)"
        raise MtlflowError(f"{path}: no such file{hint}; diagnose reads the history `mtlflow train` writes "
                           "at the end of training")
    try:
        return json.loads(path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise MtlflowError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def summarize(history: dict, source: str = "history.json") -> dict:
    """Means over the run and per-epoch series of the gradient diagnostics (JSON-ready).

    Means over the run weight each epoch by its number of measured steps (so they are means
    over every measured step). Raises :class:`MtlflowError` when no epoch was measured.
    """
    epochs = [e for e in history.get("epochs", []) if isinstance(e.get("balance"), dict)]
    measured = [e for e in epochs if "cosine" in e["balance"] and e["balance"].get("measured_steps", 0) > 0]
    if not measured:
        raise MtlflowError(
            f"{source}: the run has no task-gradient diagnostics (it was trained with "
            "`training.diagnostics_every: null` and a balancer that does not read per-task gradients); "
            + _HOW_TO_MEASURE)
    tasks = list(measured[-1]["balance"]["tasks"])
    if any(list(e["balance"]["tasks"]) != tasks for e in measured):
        raise MtlflowError(f"{source}: the trained tasks change between epochs; cannot average them")
    counts = np.array([e["balance"]["measured_steps"] for e in measured], dtype=float)
    share = counts / counts.sum()

    def series(key):
        return np.array([e["balance"][key] for e in measured], dtype=float)

    cosine, conflicts, ratios = series("cosine"), series("conflict_rate"), series("norm_ratio")
    cosine_mean = np.tensordot(share, cosine, axes=1)
    has_squares = all("cosine_sq" in e["balance"] for e in measured)
    cosine_sq = np.tensordot(share, series("cosine_sq"), axes=1) if has_squares else None
    n = int(counts.sum())
    conflict_mean = np.tensordot(share, conflicts, axes=1)
    dominance = np.stack([_dominance(r) for r in ratios])
    dominance_mean = share @ dominance

    pairs = []
    for i in range(len(tasks)):
        for j in range(i + 1, len(tasks)):
            low, high = cosine_interval(cosine_mean[i, j], None if cosine_sq is None else cosine_sq[i, j], n)
            rate_low, _ = wilson_interval(conflict_mean[i, j], n)
            pair = {"tasks": [tasks[i], tasks[j]], "mean_cosine": _round(cosine_mean[i, j]),
                    "cosine_interval": [_round(low), _round(high)], "last_cosine": _round(cosine[-1, i, j]),
                    "conflict_rate": _round(conflict_mean[i, j]), "measured_steps": n}
            pair["conflicting"] = bool(n >= MIN_MEASURED_STEPS and (high < 0 or rate_low > CONFLICT_RATE))
            pairs.append(pair)
    norms = [{"task": t, "mean_norm_ratio": _round(share @ ratios[:, k]), "mean_dominance": _round(dominance_mean[k]),
              "max_dominance": _round(dominance[:, k].max()), "dominant": bool(dominance_mean[k] > DOMINANCE)}
             for k, t in enumerate(tasks)]
    weighted = [e for e in epochs if e["balance"].get("weights") and list(e["balance"]["tasks"]) == tasks]
    return {
        "tasks": tasks,
        "epochs": len(history.get("epochs", [])),
        "measured_epochs": [e["epoch"] for e in measured],
        "steps": int(sum(e["balance"].get("steps", 0) for e in epochs)),
        "measured_steps": int(counts.sum()),
        "cosine_mean": _round(cosine_mean),
        "cosine_last": _round(cosine[-1]),
        "last_epoch": measured[-1]["epoch"],
        "conflict_rate_mean": _round(conflict_mean),
        "pairs": pairs,
        "conflicting_pairs": [p for p in pairs if p["conflicting"]],
        "norms": norms,
        "dominant_tasks": [n for n in norms if n["dominant"]],
        "norm_ratio_by_epoch": _round(ratios),
        "dominance_by_epoch": _round(dominance),
        "cosine_by_epoch": {f"{p['tasks'][0]}×{p['tasks'][1]}": _round(cosine[:, i, j])
                            for p, (i, j) in zip(pairs, _upper(len(tasks)))},
        "resumed_from_epoch": int(history.get("resumed_from_epoch") or 0),
        "weight_epochs": [e["epoch"] for e in weighted],
        "weights_by_epoch": [e["balance"]["weights"] for e in weighted],
    }


def cosine_interval(mean: float, mean_square: float | None, n: int) -> tuple[float, float]:
    """The 95% interval ``mean ± 1.96 · sd / √n`` of a mean cosine over ``n`` steps.

    ``sd`` is the sample standard deviation from the mean of squares; without it, the
    largest a variable in [-1, 1] with this mean can have, ``√(1 - mean²)``.
    """
    if n < 2:
        return -1.0, 1.0
    if mean_square is None:
        sd = math.sqrt(max(1.0 - mean * mean, 0.0))
    else:
        sd = math.sqrt(max(mean_square - mean * mean, 0.0) * n / (n - 1))
    half = Z_95 * sd / math.sqrt(n)
    return max(mean - half, -1.0), min(mean + half, 1.0)


def wilson_interval(rate: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion ``rate`` observed over ``n`` steps."""
    if n == 0:
        return 0.0, 1.0
    z2 = Z_95 * Z_95
    centre = (rate + z2 / (2 * n)) / (1 + z2 / n)
    half = Z_95 * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return centre - half, centre + half


def _dominance(ratios: np.ndarray) -> np.ndarray:
    """``r_t / mean_{j≠t} r_j``: each norm relative to the other tasks' mean norm."""
    t = len(ratios)
    if t == 1:
        return np.ones(1)
    others = (ratios.sum() - ratios) / (t - 1)
    return np.where(others > 0, ratios / np.maximum(others, 1e-12), np.where(ratios > 0, np.inf, 1.0))


def _upper(t: int):
    return [(i, j) for i in range(t) for j in range(i + 1, t)]


def _round(x, digits: int = 4):
    if isinstance(x, np.ndarray):
        return [_round(v, digits) for v in x]
    x = float(x)
    return x if not np.isfinite(x) else round(x, digits)


# ---- output ----------------------------------------------------------------------------
def summary_lines(report: dict) -> list[str]:
    """The short summary ``mtlflow diagnose`` prints."""
    lines = [f"diagnose: {len(report['tasks'])} trained tasks ({', '.join(report['tasks'])}), "
             f"{report['measured_steps']} of {report['steps']} steps measured in {len(report['measured_epochs'])} "
             f"of {report['epochs']} epochs"]
    if report.get("resumed_from_epoch"):
        lines.append(f"a resumed run: history.json holds epochs {report['resumed_from_epoch'] + 1} on only, so "
                     "the diagnostics of the earlier epochs are not included")
    if report.get("measured_on") == "representation":
        lines.append("gradients measured on the shared representation (training.balance.gradients: "
                     "representation), not on the shared parameters")
    steps = report["measured_steps"]
    if len(report["tasks"]) < 2:
        lines.append("one trained task: no task pairs to compare")
    elif report["conflicting_pairs"]:
        lines.append(f"conflicting task pairs over {steps} measured steps (95% interval of the mean cosine below 0, "
                     f"or of the conflict rate above {CONFLICT_RATE}):")
        for p in report["conflicting_pairs"]:
            low, high = p["cosine_interval"]
            lines.append(f"  {p['tasks'][0]} × {p['tasks'][1]}: mean cosine {p['mean_cosine']:+.3f} "
                         f"[{low:+.3f}, {high:+.3f}] (epoch {report['last_epoch']}: {p['last_cosine']:+.3f}), "
                         f"conflict rate {p['conflict_rate']:.2f}")
    else:
        worst = min(report["pairs"], key=lambda p: p["mean_cosine"])
        low, high = worst["cosine_interval"]
        verdict = (f"too few measured steps to call a conflict ({steps}; at least {MIN_MEASURED_STEPS} needed)"
                   if steps < MIN_MEASURED_STEPS else f"no conflicting task pairs over {steps} measured steps")
        lines.append(f"{verdict} (lowest mean cosine: {worst['tasks'][0]} × {worst['tasks'][1]} "
                     f"{worst['mean_cosine']:+.3f} [{low:+.3f}, {high:+.3f}], conflict rate {worst['conflict_rate']:.2f})")
    if report["dominant_tasks"]:
        lines.append(f"dominant gradient norms (> {DOMINANCE:g}× the other tasks' mean norm): " + ", ".join(
            f"{n['task']} {n['mean_dominance']:.1f}×" for n in report["dominant_tasks"]))
    elif len(report["tasks"]) > 1:
        top = max(report["norms"], key=lambda n: n["mean_dominance"])
        lines.append(f"no task's gradient norm dominates (largest: {top['task']}, {top['mean_dominance']:.2f}× "
                     "the others' mean)")
    return lines


def diagnose_markdown(report: dict, run_dir: str | Path | None = None) -> str:
    tasks = report["tasks"]
    head = "# Negative-transfer diagnostics" + (f": `{run_dir}`" if run_dir else "")
    lines = [head, "", *summary_lines(report), "",
             "Means over every measured step (epochs weighted by their measured steps). A pair conflicts when, "
             f"over at least {MIN_MEASURED_STEPS} measured steps, the 95% interval of its mean cosine lies below 0 "
             f"or that of its conflict rate (share of measured steps with a negative cosine) above {CONFLICT_RATE}; "
             f"a task dominates when its gradient norm is > {DOMINANCE:g}× the other tasks' mean norm.", "",
             "## Task pairs", "",
             f"| pair | mean cosine | 95% interval | cosine, epoch {report['last_epoch']} | conflict rate | verdict |",
             "|---|---:|---|---:|---:|---|"]
    for p in report["pairs"]:
        low, high = p["cosine_interval"]
        lines.append(f"| {p['tasks'][0]} × {p['tasks'][1]} | {p['mean_cosine']:+.3f} | [{low:+.3f}, {high:+.3f}] | "
                     f"{p['last_cosine']:+.3f} | {p['conflict_rate']:.2f} | "
                     f"{'**conflict**' if p['conflicting'] else 'ok'} |")
    lines += ["", "## Gradient norms", "",
              "| task | norm / mean norm | norm / others' mean | max over epochs | verdict |", "|---|---:|---:|---:|---|"]
    for n in report["norms"]:
        lines.append(f"| {n['task']} | {n['mean_norm_ratio']:.2f} | {n['mean_dominance']:.2f} | {n['max_dominance']:.2f} "
                     f"| {'**dominates**' if n['dominant'] else 'ok'} |")
    lines += ["", "## Task weights by epoch (balancer, mean over steps)", "",
              "| epoch | " + " | ".join(tasks) + " |", "|---:|" + "---:|" * len(tasks)]
    for epoch, weights in zip(report["weight_epochs"], report["weights_by_epoch"]):
        lines.append(f"| {epoch} | " + " | ".join(f"{w:.3f}" for w in weights) + " |")
    lines += ["", "## Mean cosine matrix", "", "| | " + " | ".join(tasks) + " |", "|---|" + "---:|" * len(tasks)]
    for name, row in zip(tasks, report["cosine_mean"]):
        lines.append(f"| {name} | " + " | ".join(f"{c:+.3f}" for c in row) + " |")
    lines += ["", "![diagnostics](diagnose.png)", ""]
    return "\n".join(lines)


def plot_diagnosis(report: dict, path: str | Path) -> Path:
    """Cosine heatmaps (mean, last epoch), conflict rates, weights and norm ratios by epoch."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    tasks = report["tasks"]
    fig = Figure(figsize=(15, 9))  # not pyplot: the caller's backend stays as it is
    axes = fig.subplots(2, 3)
    heatmaps = ((report["cosine_mean"], "task-gradient cosine, mean over the run", "RdBu", -1, 1),
                (report["cosine_last"], f"task-gradient cosine, epoch {report['last_epoch']}", "RdBu", -1, 1),
                (report["conflict_rate_mean"], "conflict rate (share of steps with cosine < 0)", "Reds", 0, 1))
    for ax, (matrix, title, cmap, low, high) in zip(axes[0], heatmaps):
        matrix = np.array(matrix)
        image = ax.imshow(matrix, cmap=cmap, vmin=low, vmax=high)
        ax.set(title=title, xticks=range(len(tasks)), yticks=range(len(tasks)))
        ax.set_xticklabels(tasks, rotation=30, ha="right")
        ax.set_yticklabels(tasks)
        for (i, j), value in np.ndenumerate(matrix):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(value) > 0.6 * max(abs(low), high) else "black")
        fig.colorbar(image, ax=ax, fraction=0.046)
    ax = axes[1][0]
    weights = np.array(report["weights_by_epoch"])
    for k, task in enumerate(tasks):
        ax.plot(report["weight_epochs"], weights[:, k], marker="o", ms=3, label=task)
    ax.set(title="balancer task weights (mean per epoch)", xlabel="epoch")
    ax.legend(fontsize=8)
    ax = axes[1][1]
    dominance = np.array(report["dominance_by_epoch"])
    for k, task in enumerate(tasks):
        ax.plot(report["measured_epochs"], dominance[:, k], marker="o", ms=3, label=task)
    ax.axhline(DOMINANCE, color="grey", ls="--", lw=1, label=f"dominates (> {DOMINANCE:g})")
    ax.set(title="gradient norm / other tasks' mean norm", xlabel="epoch",
           yscale="log" if np.nanmax(dominance) > 20 else "linear")
    ax.legend(fontsize=8)
    ax = axes[1][2]
    for pair, values in report["cosine_by_epoch"].items():
        ax.plot(report["measured_epochs"], values, marker="o", ms=3, label=pair)
    ax.axhline(0.0, color="grey", ls="--", lw=1)
    ax.set(title="pairwise task-gradient cosine by epoch", xlabel="epoch", ylim=(-1.05, 1.05))
    if report["cosine_by_epoch"]:
        ax.legend(fontsize=8)
    for ax in axes[1]:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


def _training_settings(run_dir: Path) -> dict:
    """The run's ``sharing`` and ``training.balance`` settings that change what was measured."""
    import yaml

    try:
        raw = yaml.safe_load((run_dir / "config.yaml").read_text("utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    balance = (raw.get("training") or {}).get("balance") or {}
    return {"sharing": (raw.get("sharing") or {}).get("type"), "gradients": balance.get("gradients"),
            "method": balance.get("method")}


def diagnose(run_dir: str | Path) -> dict:
    """Reads ``run_dir/history.json``, writes ``diagnose.md`` and ``diagnose.png`` there; returns the report."""
    run_dir = Path(run_dir)
    settings = _training_settings(run_dir)
    try:
        report = summarize(read_history(run_dir), str(run_dir / "history.json"))
    except MtlflowError as exc:
        if settings.get("sharing") == "none" and "no task-gradient diagnostics" in str(exc):
            raise MtlflowError(f"{run_dir}: the run shares no parameters (sharing.type: none), so its tasks' "
                               "gradients never meet and there is nothing to diagnose") from None
        raise
    report["measured_on"] = "representation" if settings.get("gradients") == "representation" else "parameters"
    (run_dir / "diagnose.md").write_text(diagnose_markdown(report, run_dir), "utf-8")
    plot_diagnosis(report, run_dir / "diagnose.png")
    return report


# ---- command line ------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a trained run directory (reads its history.json)")


def main(args: argparse.Namespace) -> int:
    report = diagnose(args.run_dir)
    for line in summary_lines(report):
        print(line)
    run_dir = Path(args.run_dir)
    print(f"wrote {run_dir / 'diagnose.md'} and {run_dir / 'diagnose.png'}")
    return 0
