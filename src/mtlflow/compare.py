"""``mtlflow compare CONFIG``: the multi-task model against one single-task model per task.

Trains the config's multi-task model and, for every task, the same config with only that
task under ``tasks:`` — same data, encoder, training budget (epochs, early stopping) and
seeds — and reports each task's headline metric (mean ± sample std over the seeds) and
the multi-task model's average relative change, as LibMTL reports it:

    Δm = (1/T) Σ_t (−1)^{l_t} (M_mt,t − M_st,t) / M_st,t × 100 %

with ``l_t = 1`` when the metric is lower-is-better (RMSE, MAE, log-loss) and the means
over seeds in place of ``M``. Positive Δm: multi-task learning helped on average. A task
suffers *negative transfer* when its signed relative change is below zero. Tasks without
a head of their own (``product_of``) or with ``weight: 0`` (ESMM's unsupervised tower)
cannot be trained alone; they are reported for the multi-task model and left out of Δm.

Single-task configs keep everything task-independent; what names other tasks is adapted
(early stopping on another task's metric monitors the task's own headline metric;
``training.groups`` and ``stages`` keep the ``shared`` group and the task's own).

Example::

    from mtlflow.compare import compare
    result = compare("my_project/config.yaml", seeds=[1, 2, 3], out="runs/compare")
    result["delta_m"], result["negative_transfer"]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import yaml

from mtlflow.errors import ConfigError, MtlflowError
from mtlflow.evaluate.report import HEADLINE_METRICS, json_safe

LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss", "loss"})
"""Metrics where smaller is better (``l_t = 1`` in Δm)."""


# ---- the formula -------------------------------------------------------------------------
def relative_change(multi_task: float, single_task: float, lower_is_better: bool = False) -> float:
    """``(−1)^l (M_mt − M_st) / M_st × 100``: positive when the multi-task model is better.

    Example::

        relative_change(0.9, 0.8)                        # 12.5  (accuracy up)
        relative_change(0.9, 1.0, lower_is_better=True)  # 10.0  (RMSE down)
    """
    if single_task == 0:
        raise ValueError("Argument `single_task` must be non-zero (Δm divides by it). Received: single_task=0")
    sign = -1.0 if lower_is_better else 1.0
    return sign * (multi_task - single_task) / single_task * 100.0


def delta_m(multi_task: Mapping[str, float], single_task: Mapping[str, float],
            lower_is_better: Mapping[str, bool] | None = None) -> float:
    """Δm (in %) over the tasks of ``single_task``: the mean of their :func:`relative_change`.

    Args:
      multi_task: ``{task: metric}`` of the multi-task model.
      single_task: ``{task: metric}`` of the single-task baselines (the tasks averaged over).
      lower_is_better: ``{task: bool}`` (default: every task higher-is-better).

    References:
      Maninis, Radosavovic and Kokkinos, "Attentive Single-Tasking of Multiple Tasks", CVPR
      2019; Lin and Zhang, "LibMTL: A Python Library for Multi-Task Learning", JMLR 2023.
    """
    if not single_task:
        raise ValueError("Argument `single_task` must name at least one task. Received: single_task={}")
    lower = lower_is_better or {}
    changes = [relative_change(multi_task[t], single_task[t], bool(lower.get(t, False))) for t in single_task]
    return sum(changes) / len(changes)


def headline_metric(spec) -> str:
    """The metric that stands for a task: its type's entry of ``HEADLINE_METRICS`` (accuracy,
    span F1, AUC, micro-F1, RMSE), else the first metric it reports."""
    reported = list(spec.metrics or spec.metric_names)
    return next((m for m in spec.metric_names if m in HEADLINE_METRICS and m in reported), reported[0])


# ---- configs -----------------------------------------------------------------------------
def _skip_reason(spec) -> str | None:
    if getattr(spec, "product_of", None):
        return f"product_of {spec.product_of}: no head of its own, cannot be trained alone"
    if spec.weight == 0:
        return "weight 0: not trained directly (e.g. an ESMM tower), cannot be trained alone"
    return None


def single_task_config(raw: dict, task: str, headline: str) -> tuple[dict, list[str]]:
    """``raw`` (a validated config as a dict) with only ``task``; also what was adapted."""
    config = json.loads(json.dumps(raw))
    config["tasks"] = [t for t in config["tasks"] if t["name"] == task]
    training, notes = config["training"], []
    stop = training.get("early_stopping")
    if stop and stop.get("monitor", "loss") not in ("loss",):
        head = stop["monitor"].partition(".")[0]
        if head not in ("joint", task):
            notes.append(f"early stopping monitors {task}.{headline} instead of {stop['monitor']}")
            stop["monitor"], stop["mode"] = f"{task}.{headline}", "auto"
    keep = {"shared", task}
    training["groups"] = {k: v for k, v in (training.get("groups") or {}).items() if k in keep}
    for stage in training.get("stages") or []:
        stage["freeze"] = [g for g in stage.get("freeze") or [] if g in keep]
        stage["learning_rate_multipliers"] = {k: v for k, v in (stage.get("learning_rate_multipliers") or {}).items()
                                              if k in keep}
    return config, notes


def _with_budget(raw: dict, seed: int, epochs: int | None) -> dict:
    config = json.loads(json.dumps(raw))
    config["training"]["seed"] = seed
    if epochs is not None:
        config["training"]["epochs"] = epochs
    config.setdefault("export", {})["base_dir"] = None
    return config


# ---- the comparison ----------------------------------------------------------------------
def compare(config_path: str | Path, seeds: Sequence[int] = (1, 2, 3), out: str | Path | None = None,
            epochs: int | None = None, log: Callable[[str], None] | None = print,
            tasks: Sequence[str] | None = None) -> dict:
    """Trains the multi-task model and the single-task baselines; writes ``compare.{json,md,png}``.

    Args:
      config_path: a multi-task YAML config.
      seeds: ``training.seed`` of each repetition (every model is trained once per seed).
      out: output directory (default ``runs/compare-<config>-<time>``); runs go to ``out/runs``.
      epochs: overrides ``training.epochs`` for every model.
      log: receives progress lines (None: silent).
      tasks: the tasks to train alone (default: every task that can be); Δm is over them.

    Returns:
      The content of ``compare.json``.
    """
    from mtlflow.config import load_config
    from mtlflow.run import absolute_config

    log = log or (lambda line: None)
    config_path = Path(config_path)
    config = absolute_config(load_config(config_path), config_path.parent)
    if not seeds:
        raise MtlflowError("compare: give at least one seed")
    if epochs is not None and epochs < 1:
        raise MtlflowError(f"compare: --epochs must be at least 1, got {epochs}")
    raw = config.model_dump(mode="json")
    specs = {spec.name: spec for spec in config.tasks}
    headline = {name: headline_metric(spec) for name, spec in specs.items()}
    skipped = {name: reason for name, spec in specs.items() if (reason := _skip_reason(spec))}
    if tasks is not None:
        unknown = [t for t in tasks if t not in specs]
        if unknown:
            raise MtlflowError(f"compare: {unknown[0]!r} is not a task of {config_path}; tasks: {', '.join(specs)}")
        skipped.update({name: "not asked for (--tasks)" for name in specs if name not in tasks and name not in skipped})
    alone = [name for name in specs if name not in skipped]
    if len(specs) < 2:
        raise MtlflowError(f"{config_path}: one task only; compare needs a multi-task config")
    if not alone:
        raise MtlflowError(f"{config_path}: no task can be trained alone ({'; '.join(skipped.values())})")
    out = Path(out) if out else Path("runs") / f"compare-{config_path.stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if (out / "runs").exists() and any((out / "runs").iterdir()):
        raise MtlflowError(f"{out}: already holds a comparison (runs/); pick another --out")
    (out / "configs").mkdir(parents=True, exist_ok=True)

    variants = {"multi_task": (raw, [])}
    for name in alone:
        variants[name] = single_task_config(raw, name, headline[name])
    notes = [f"{name}: {reason}" for name, reason in skipped.items()]
    notes += [f"single-task {name}: {note}" for name, (_, adapted) in variants.items() for note in adapted]

    plan = [(seed, variant) for seed in seeds for variant in variants]
    log(f"compare: {len(plan)} trainings: the multi-task model ({', '.join(specs)}) and {len(alone)} single-task "
        f"models ({', '.join(alone)}) × seeds {', '.join(map(str, seeds))}"
        + (f", {epochs} epochs each" if epochs else f", up to {config.training.epochs} epochs each"))
    for name, reason in skipped.items():
        log(f"compare: skipping single-task {name}: {reason}")
    runs, began = [], time.perf_counter()
    with _quiet_retracing():
        for i, (seed, variant) in enumerate(plan, 1):
            runs.append(_train_one(i, len(plan), seed, variant, variants[variant][0], out, epochs, specs,
                                   headline, config_path, log))
    result = summarize(runs, specs, headline, list(seeds), skipped)
    evaluated = "test" if config.data.test else "validation"
    result.update(config=str(config_path), epochs=epochs or config.training.epochs, evaluated_on=evaluated,
                  notes=notes, seconds=round(time.perf_counter() - began, 1), runs=runs)
    (out / "compare.json").write_text(json.dumps(json_safe(result), indent=1, ensure_ascii=False), "utf-8")
    (out / "compare.md").write_text(compare_markdown(result), "utf-8")
    plot_compare(result, out / "compare.png")
    log(f"compare: wrote {out / 'compare.json'}, compare.md and compare.png ({result['seconds']:.0f} s in all)")
    return result


def _train_one(i: int, total: int, seed: int, variant: str, raw: dict, out: Path, epochs: int | None,
               specs: Mapping, headline: Mapping[str, str], config_path: Path, log) -> dict:
    """Trains one model of the comparison into ``out/runs/<variant>-seed<seed>``; its record."""
    from mtlflow.run import train

    label = "multi-task" if variant == "multi_task" else f"single-task {variant}"
    name = f"{variant}-seed{seed}"
    path = out / "configs" / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_with_budget(raw, seed, epochs), allow_unicode=True, sort_keys=False), "utf-8")
    log(f"[{i}/{total}] seed {seed}: training {label} ...")
    started = time.perf_counter()
    try:
        _, metrics = train(path, out / "runs" / name, verbose=False, export=False)
    except ConfigError as exc:
        raise ConfigError(f"the {label} config derived from {config_path}: {exc}") from None
    if not metrics:
        raise MtlflowError(f"{config_path}: no test or validation split to evaluate on; add data.test "
                           "(or data.validation / validation_split)")
    history = json.loads((out / "runs" / name / "history.json").read_text("utf-8"))
    seconds = time.perf_counter() - started
    shown = specs if variant == "multi_task" else [variant]
    log(f"[{i}/{total}] seed {seed}: {label} done in {seconds:.0f} s ({len(history['epochs'])} epochs): "
        + "  ".join(f"{t}.{headline[t]}={_fmt(metrics[t].get(headline[t]))}" for t in shown))
    kept = {t: metrics[t] for t in shown}
    if variant == "multi_task" and "joint" in metrics:
        kept["joint"] = metrics["joint"]
    return {"variant": variant, "seed": seed, "directory": str(out / "runs" / name), "seconds": round(seconds, 1),
            "epochs": len(history["epochs"]), "best_epoch": history.get("best_epoch"), "metrics": kept}


@contextlib.contextmanager
def _quiet_retracing():
    """Hides TensorFlow's "triggered tf.function retracing" warnings while many models train in turn."""
    import tensorflow as tf

    logger = tf.get_logger()
    level = logger.level
    logger.setLevel("ERROR")
    try:
        yield
    finally:
        logger.setLevel(level)


def summarize(runs: list[dict], specs: Mapping, headline: Mapping[str, str], seeds: list[int],
              skipped: Mapping[str, str]) -> dict:
    """Per-task means ± std over seeds, relative changes, Δm and the negative-transfer tasks."""
    tasks, relative, lower = {}, {}, {}
    for name, spec in specs.items():
        metric = headline[name]
        lower[name] = metric in LOWER_IS_BETTER
        entry = {"type": spec.type, "metric": metric, "lower_is_better": lower[name],
                 "multi_task": _stats([_value(r, name, metric) for r in runs if r["variant"] == "multi_task"])}
        if name in skipped:
            entry.update(single_task=None, note=skipped[name])
        else:
            entry["single_task"] = _stats([_value(r, name, metric) for r in runs if r["variant"] == name])
            mt, st = entry["multi_task"]["mean"], entry["single_task"]["mean"]
            if _finite(mt) and _finite(st) and st != 0:
                relative[name] = relative_change(mt, st, lower[name])
                entry["relative_change"] = round(relative[name], 3)
                entry["negative_transfer"] = relative[name] < 0
            else:
                entry.update(relative_change=None, negative_transfer=None,
                             note="no finite single-task metric (or it is 0): left out of Δm")
        tasks[name] = entry
    per_seed = []
    for seed in seeds:
        mt = {n: _value(r, n, headline[n]) for r in runs if r["variant"] == "multi_task" and r["seed"] == seed
              for n in relative}
        st = {r["variant"]: _value(r, r["variant"], headline[r["variant"]]) for r in runs
              if r["variant"] in relative and r["seed"] == seed}
        usable = {n: v for n, v in st.items() if _finite(v) and v != 0 and _finite(mt.get(n))}
        per_seed.append(round(delta_m(mt, usable, lower), 3) if usable else None)
    value = sum(relative.values()) / len(relative) if relative else None
    return {
        "seeds": seeds,
        "tasks": tasks,
        "delta_m": None if value is None else round(value, 3),
        "delta_m_tasks": list(relative),
        "delta_m_per_seed": per_seed,
        "negative_transfer": [n for n, e in tasks.items() if e.get("negative_transfer")],
    }


def _value(run: dict, task: str, metric: str):
    value = run["metrics"].get(task, {}).get(metric)
    return None if value is None else float(value)


def _finite(value) -> bool:
    return value is not None and math.isfinite(value)


def _stats(values: list) -> dict:
    finite = [v for v in values if _finite(v)]
    mean = statistics.fmean(finite) if finite else None
    std = statistics.stdev(finite) if len(finite) > 1 else (0.0 if finite else None)
    return {"mean": mean, "std": std, "per_seed": values}


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if not _finite(value) else f"{value:.{digits}f}"


def _pm(stats: dict | None) -> str:
    if not stats or not _finite(stats["mean"]):
        return "—"
    return f"{stats['mean']:.4f} ± {stats['std']:.4f}"


# ---- output ------------------------------------------------------------------------------
def summary_lines(result: dict) -> list[str]:
    n = len(result["seeds"])
    lines = [f"{'task':<16} {'metric':<10} {'multi-task':>18} {'single-task':>18} {'Δ %':>8}"]
    for name, e in result["tasks"].items():
        change = e.get("relative_change")
        lines.append(f"{name:<16} {e['metric'] + (' ↓' if e['lower_is_better'] else ''):<10} {_pm(e['multi_task']):>18} "
                     f"{_pm(e['single_task']):>18} {'—' if change is None else f'{change:+.2f}':>8}")
    if result["delta_m"] is not None:
        lines.append(f"Δm = {result['delta_m']:+.2f} % over {', '.join(result['delta_m_tasks'])} "
                     f"(mean ± sample std over {n} seed{'s' if n > 1 else ''}; Δm from the means)")
    if result["negative_transfer"]:
        lines.append("negative transfer (multi-task worse than single-task on the mean over seeds): "
                     + ", ".join(result["negative_transfer"]))
    else:
        lines.append("no task is worse in the multi-task model (mean over seeds)")
    return lines


def compare_markdown(result: dict) -> str:
    n = len(result["seeds"])
    lines = [f"# Multi-task vs single-task: `{result.get('config', '')}`", "",
             f"Seeds {', '.join(map(str, result['seeds']))}; up to {result.get('epochs')} epochs per model; metrics on "
             f"the {result.get('evaluated_on', 'test')} split, mean ± sample std over {n} seed{'s' if n > 1 else ''}. "
             "Δ = (−1)^l (M_mt − M_st) / M_st × 100 (l = 1 for lower-is-better metrics, marked ↓): positive means "
             "the multi-task model is better.", "",
             "| task | type | metric | multi-task | single-task | Δ (%) | |", "|---|---|---|---:|---:|---:|---|"]
    for name, e in result["tasks"].items():
        change = e.get("relative_change")
        verdict = ("negative transfer" if e.get("negative_transfer") else "ok") if change is not None \
            else (e.get("note") or "")
        lines.append(f"| {name} | {e['type']} | {e['metric']}{' ↓' if e['lower_is_better'] else ''} | "
                     f"{_pm(e['multi_task'])} | {_pm(e['single_task'])} | "
                     f"{'—' if change is None else f'{change:+.2f}'} | {verdict} |")
    if result["delta_m"] is not None:
        per_seed = ", ".join("n/a" if v is None else f"{v:+.2f}" for v in result["delta_m_per_seed"])
        lines += ["", f"**Δm = {result['delta_m']:+.2f} %** over {', '.join(result['delta_m_tasks'])} "
                  f"(from the means over seeds; per seed: {per_seed})."]
    lines += ["", "Negative transfer: " + (", ".join(result["negative_transfer"]) if result["negative_transfer"]
                                           else "none (no task is worse multi-task, on the mean over seeds)") + "."]
    if result.get("notes"):
        lines += ["", "Notes:", ""] + [f"* {note}" for note in result["notes"]]
    if result.get("runs"):
        lines += ["", "| model | seed | epochs (best) | seconds | " + " | ".join(
            f"{t}.{e['metric']}" for t, e in result["tasks"].items()) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(result["tasks"])]
        for r in result["runs"]:
            cells = [_fmt(_value(r, t, e["metric"])) if t in r["metrics"] else "" for t, e in result["tasks"].items()]
            label = "multi-task" if r["variant"] == "multi_task" else f"single-task {r['variant']}"
            lines.append(f"| {label} | {r['seed']} | {r['epochs']} ({r['best_epoch'] or '—'}) | {r['seconds']} | "
                         + " | ".join(cells) + " |")
    lines += ["", "![multi-task vs single-task](compare.png)", ""]
    return "\n".join(lines)


def plot_compare(result: dict, path: str | Path) -> Path:
    """Bars of each task's headline metric (multi- vs single-task, ± std) and of the Δ per task."""
    import numpy as np
    from matplotlib.figure import Figure

    tasks = list(result["tasks"])
    fig = Figure(figsize=(max(8, 2.2 * len(tasks) + 5), 4.2))  # not pyplot: no backend switch
    left, right = fig.subplots(1, 2)
    x = np.arange(len(tasks))
    for offset, key, label in ((-0.2, "multi_task", "multi-task"), (0.2, "single_task", "single-task")):
        stats = [result["tasks"][t][key] or {"mean": None, "std": None} for t in tasks]
        means = [s["mean"] if _finite(s["mean"]) else 0.0 for s in stats]
        stds = [s["std"] if _finite(s["std"]) else 0.0 for s in stats]
        left.bar(x + offset, means, 0.4, yerr=stds, capsize=3, label=label)
    left.set_xticks(x)
    left.set_xticklabels([f"{t}\n{e['metric']}{' ↓' if e['lower_is_better'] else ''}"
                          for t, e in result["tasks"].items()])
    left.set(title=f"headline metric (mean ± std, {len(result['seeds'])} seeds)")
    left.legend(fontsize=8)
    names = [t for t in tasks if result["tasks"][t].get("relative_change") is not None]
    values = [result["tasks"][t]["relative_change"] for t in names]
    if result["delta_m"] is not None:
        names, values = names + ["Δm"], values + [result["delta_m"]]
    right.bar(range(len(names)), values, color=["tab:red" if v < 0 else "tab:green" for v in values])
    right.axhline(0.0, color="grey", lw=1)
    right.set_xticks(range(len(names)))
    right.set_xticklabels(names)
    right.set(title="Δ vs single-task (%; > 0: multi-task better)", ylabel="%")
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    return path


# ---- command line ------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="a multi-task YAML config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3],
                        help="training seeds; every model is trained once per seed (default: 1 2 3)")
    parser.add_argument("--out", help="output directory (default: runs/compare-<config>-<time>)")
    parser.add_argument("--epochs", type=int, help="override training.epochs for every model")
    parser.add_argument("--tasks", nargs="+", metavar="TASK",
                        help="train only these tasks alone (default: every task that can be); Δm is over them")


def main(args: argparse.Namespace) -> int:
    result = compare(args.config, seeds=args.seeds, out=args.out, epochs=args.epochs,
                     tasks=getattr(args, "tasks", None))
    print()
    for line in summary_lines(result):
        print(line)
    return 0
