"""Every loss balancer / gradient combiner of ``mtlflow.balance.BALANCERS``: quality and step time.

Usage::

    python benchmarks/balancers.py                 # full run (~15 min on 2 loaded CPU cores)
    python benchmarks/balancers.py --quick         # smoke test (~3 min), writes nothing

Two problems, each trained once per method (``training.balance.method``) with the same
data, seed, epochs and no early stopping, through the normal config path
(:func:`mtlflow.run.train`):

* **synthetic conflicting pair** (CSV, 8 numeric inputs): two regression tasks with
  ``normalize: false`` whose targets live on scales 100 and 1 — ``big = 100·(tanh(2u·x) +
  x₃/2) + N(0, 20²)`` and ``small = sin(2v·x) + x₄/2 + N(0, 0.05²)`` with ``u·v < 0`` —
  through a shared MLP trunk that narrows to 4 units. With fixed weights the squared
  error of ``big`` is ~10⁴× that of ``small``, so the trunk serves ``big`` alone;
* **customer service** (the demo corpus from :mod:`mtlflow.data.customer_service`, reduced
  size): intent + slots + sentiment on the template's character BiLSTM.

Besides the methods' default rows, ``--variants`` adds rows with ``training.balance.every:
k`` (``pcgrad@4``) and ``training.balance.gradients: representation`` (``pcgrad+rep``).

Per task the headline metric on the test split (``mtlflow.compare.headline_metric``) and
the Δ vs ``fixed`` (:func:`mtlflow.compare.delta_m` with ``fixed`` as the baseline);
``fixed`` is also trained with ``--noise-seeds`` other seeds to show the seed-to-seed
spread. Step time: every run has ``training.diagnostics_every: null``, so only the
balancer's own needs cost time; after all methods are trained, each trainer's compiled
``train_function`` is called on the same ``--timing-steps`` cached batches (one step per
call, 3 warm-up calls), methods interleaved over ``--rounds`` rounds (order reversed every
other round); the median wall and CPU time per call, relative to ``fixed``. The target
checked: PCGrad, CAGrad and MGDA with 3 tasks ≤ 1.5× the step time of ``fixed``.

Where the time goes (customer service): the parts of a step timed alone on the same
batches — the forward pass with the task losses; plus one backward pass of ``Σ w_t L_t``
(what ``fixed`` does); plus one backward pass per task through the shared encoder (what
a gradient-level method needs) — and each gradient method's ``update`` alone on the
``[T, P]`` gradient matrix. Writes ``benchmarks/results/balancers.json`` and the
"Balancers" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib.resources import files
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import replace_section, save  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "balancers.json"
SECTION = "## Balancers"
TARGET_METHODS = ("pcgrad", "cagrad", "mgda")
TARGET_RATIO = 1.5
DIM = 8


# ---- data and configs ------------------------------------------------------------------
def synthetic_rows(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    """The conflicting pair: ``big`` (scale 100, noisy) and ``small`` (scale 1) from 8 inputs."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, DIM))
    u = np.array([1.0, 1.0, 0, 0, 0, 0, 0, 0]) / np.sqrt(2.0)
    v = np.array([-1.0, 0.3, 1.0, 0, 0, 0, 0, 0])
    v /= np.linalg.norm(v)  # u·v = -0.35
    big = 100.0 * (np.tanh(2.0 * x @ u) + 0.5 * x[:, 3]) + rng.normal(0.0, 20.0, n)
    small = np.sin(2.0 * x @ v) + 0.5 * x[:, 4] + rng.normal(0.0, 0.05, n)
    header = [f"x{i}" for i in range(DIM)] + ["big", "small"]
    return header, [[f"{a:.4f}" for a in row] + [f"{b:.4f}", f"{s:.5f}"] for row, b, s in zip(x, big, small)]


def write_synthetic(directory: Path, n_train: int, n_test: int) -> dict:
    stats = {}
    for split, n, seed in (("train", n_train, 1), ("test", n_test, 2)):
        header, rows = synthetic_rows(n, seed)
        with (directory / f"{split}.csv").open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)
        stats[split] = {"rows": n, "std_big": round(float(np.std([float(r[-2]) for r in rows])), 3),
                        "std_small": round(float(np.std([float(r[-1]) for r in rows])), 4)}
    return stats


def synthetic_config(directory: Path, epochs: int) -> dict:
    return {
        "data": {"format": "csv", "train": str(directory / "train.csv"), "test": str(directory / "test.csv"),
                 "validation_split": 0.0},
        "inputs": {"numeric": [f"x{i}" for i in range(DIM)]},
        "encoder": {"mlp": [64, 4], "dropout": 0.0},
        "tasks": [{"name": "big", "type": "regression", "normalize": False, "tower": [16]},
                  {"name": "small", "type": "regression", "normalize": False, "tower": [16]}],
        "training": {"epochs": epochs, "batch_size": 64, "learning_rate": 0.003, "early_stopping": None},
        "export": {"base_dir": None},
    }


def customer_service_config(directory: Path, epochs: int, examples: int) -> dict:
    from mtlflow.data.customer_service import write_corpus

    write_corpus(directory, n=examples, seed=0)
    config = yaml.safe_load(files("mtlflow.templates").joinpath("customer_service.yaml").read_text("utf-8"))
    config["data"].update(train=str(directory / "train.jsonl"), test=str(directory / "test.jsonl"),
                          validation=None, validation_split=0.0)
    config["training"].update(epochs=epochs, early_stopping=None)
    config["export"] = {"base_dir": None}
    return config


# ---- training and timing ------------------------------------------------------------------
def balance_of(label: str) -> dict:
    """``"pcgrad"`` → ``{method: pcgrad}``; ``"pcgrad@4"`` → ``{method: pcgrad, every: 4}``;
    ``"pcgrad+rep"`` → ``{method: pcgrad, gradients: representation}``."""
    label, rep, _ = label.partition("+rep")
    method, _, every = label.partition("@")
    return {"method": method, **({"every": int(every)} if every else {}),
            **({"gradients": "representation"} if rep else {})}


def base_method(label: str) -> str:
    return balance_of(label)["method"]


def describe(label: str) -> str:
    """How a row is labelled in the tables."""
    balance = balance_of(label)
    extras = [f"`{k}: {v}`" for k, v in balance.items() if k != "method"]
    return f"`{balance['method']}`" + (f" ({', '.join(extras)})" if extras else "")


def train_method(base: dict, method: str, seed: int, workdir: Path, tag: str):
    from mtlflow.run import train

    config = json.loads(json.dumps(base))
    config["training"].update(seed=seed, diagnostics_every=None, balance=balance_of(method))
    path = workdir / f"{tag}-{method.replace('@', '-every').replace('+', '-')}-{seed}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), "utf-8")
    began = time.perf_counter()
    run, metrics = train(path, path.with_suffix(""), verbose=False, export=False)
    history = json.loads((run.directory / "history.json").read_text("utf-8"))
    return run, metrics, round(time.perf_counter() - began, 1), [e["seconds"] for e in history["epochs"]]


def timing_batches(run, steps: int):
    """``steps`` cached training batches (the same for every method), repeated forever."""
    from mtlflow.run import read_split

    split = read_split(run.config, run.config.data.train, run.tasks, "train")
    batches = run.split_data(split).batches(run.config.training.batch_size, shuffle_seed=0).take(steps).cache()
    for _ in batches:
        pass
    return batches.repeat()


def time_steps(runs: dict, batches, steps: int, rounds: int) -> dict:
    """Median wall and CPU seconds of one ``train_function`` call (one step), per method."""
    iterators = {m: iter(batches) for m in runs}
    wall = {m: [] for m in runs}
    cpu = {m: [] for m in runs}
    names = list(runs)
    for r in range(rounds):
        for method in names if r % 2 == 0 else names[::-1]:
            call, iterator = runs[method].trainer.train_function, iterators[method]
            for _ in range(3):
                call(iterator)
            for _ in range(steps):
                w, c = time.perf_counter(), time.process_time()
                call(iterator)
                wall[method].append(time.perf_counter() - w)
                cpu[method].append(time.process_time() - c)
    return {m: {"wall_ms": round(1e3 * statistics.median(wall[m]), 3),
                "cpu_ms": round(1e3 * statistics.median(cpu[m]), 3), "calls": len(wall[m])} for m in names}


def profile_step(run, batches, steps: int, rounds: int, methods: list[str]) -> dict:
    """Median ms of the parts of a step (see the module docstring), on the ``fixed`` run's model."""
    import tensorflow as tf

    from mtlflow import balance
    from mtlflow.train import gradients as G
    from mtlflow.train.losses import task_losses

    trainer, model, tasks = run.trainer, run.model, run.tasks
    names = trainer.trained
    weights = {n: trainer.weights[n] for n in names}
    shared = trainer.shared_variables
    shared_ids = {id(v) for v in shared}
    others = [v for v in model.trainable_variables if id(v) not in shared_ids]

    def losses_of(batch):
        inputs, labels, masks = batch
        losses = task_losses(tasks, model(inputs, training=True), labels, masks)
        return [losses[n] for n in names]

    @tf.function
    def forward(batch):
        return tf.add_n(losses_of(batch))

    def checksum(grads, variables):  # a scalar that depends on every gradient (nothing pruned)
        return tf.add_n([tf.reduce_sum(g.values if isinstance(g, tf.IndexedSlices) else G.dense(g, v))
                         for g, v in zip(grads, variables)])

    @tf.function
    def one_backward(batch):  # what `fixed` computes: one backward pass, sparse embedding rows kept sparse
        with tf.GradientTape() as tape:
            losses = losses_of(batch)
            total = tf.add_n([weights[n] * loss for n, loss in zip(names, losses)])
        return checksum(tape.gradient(total, model.trainable_variables), model.trainable_variables)

    @tf.function
    def one_backward_flat(batch):  # the same, the shared part flattened into one dense vector (as G's rows are)
        with tf.GradientTape() as tape:
            losses = losses_of(batch)
            total = tf.add_n([weights[n] * loss for n, loss in zip(names, losses)])
        grads = tape.gradient(total, shared + others)
        return tf.reduce_sum(G.flatten(grads[:len(shared)], shared)) + checksum(grads[len(shared):], others)

    @tf.function
    def task_backward(batch):  # what a gradient-level method computes: G = [∇θs L_t] and the heads' gradient
        with tf.GradientTape(persistent=True) as tape:
            losses = losses_of(batch)
            total = tf.add_n([weights[n] * loss for n, loss in zip(names, losses)])
        matrix = tf.stack([G.flatten(tape.gradient(loss, shared), shared) for loss in losses])
        rest = tape.gradient(total, others)
        del tape
        return tf.reduce_sum(matrix) + checksum(rest, others)

    sample = next(iter(batches))
    size = sum(int(v.shape.num_elements()) for v in shared)
    matrix = tf.random.stateless_normal([len(names), size], seed=[1, 2]) * 1e-2
    loss_values = tf.constant([1.0] * len(names))
    updates = {}
    for method in methods:
        if method != base_method(method):
            continue
        balancer = balance.create(method)
        if not balancer.needs_gradients:
            continue
        holder = balance.StateVariables(balancer.init(len(names)))

        def update(g, balancer=balancer, holder=holder):
            result, state = balancer.update(losses=loss_values, gradients=g, state=holder.value())
            holder.assign(state)
            combined = result.shared_gradient if result.shared_gradient is not None else tf.linalg.matvec(
                g, result.weights, transpose_a=True)
            return tf.reduce_sum(combined)

        updates[f"update:{method}"] = (tf.function(update), matrix)
    parts = {"forward (task losses)": (forward, None),
             "forward + 1 backward (as `fixed`)": (one_backward, None),
             "forward + 1 backward, shared gradient flattened dense": (one_backward_flat, None),
             f"forward + {len(names)} backward through the shared encoder (G) + 1 for the heads": (task_backward, None),
             **updates}
    times = {k: [] for k in parts}
    iterator = iter(batches)
    cached = [next(iterator) for _ in range(steps)]
    for f, arg in parts.values():  # trace
        f(arg if arg is not None else sample)
    for r in range(rounds):
        for key in (list(parts) if r % 2 == 0 else list(parts)[::-1]):
            f, arg = parts[key]
            for batch in cached:
                w = time.perf_counter()
                f(arg if arg is not None else batch)
                times[key].append(time.perf_counter() - w)
    return {"shared_parameters": size, "tasks": len(names),
            "ms": {k: round(1e3 * statistics.median(v), 3) for k, v in times.items()}}


def run_problem(name: str, base: dict, methods: list[str], seed: int, noise_seeds: list[int], workdir: Path,
                profile: bool) -> dict:
    from mtlflow.compare import delta_m, headline_metric
    from mtlflow.config import parse_config

    specs = parse_config(base).tasks
    headline = {t.name: headline_metric(t) for t in specs}
    lower = {t: m in ("rmse", "mae", "log_loss") for t, m in headline.items()}
    runs, rows = {}, {}
    for method in methods:
        run, metrics, seconds, epochs = train_method(base, method, seed, workdir, name)
        runs[method] = run
        rows[method] = {"metrics": {t: metrics[t][m] for t, m in headline.items()}, "train_seconds": seconds,
                        "epoch_seconds": epochs}
        print(f"{name}: {method:<12} " + "  ".join(f"{t}.{m}={rows[method]['metrics'][t]:.4f}"
                                                  for t, m in headline.items())
              + f"  ({seconds:.0f} s; epochs {', '.join(f'{s:.1f}' for s in epochs)} s)", flush=True)
    noise = {}
    for extra in noise_seeds:
        _, metrics, seconds, _ = train_method(base, "fixed", extra, workdir, name)
        noise[extra] = {t: metrics[t][m] for t, m in headline.items()}
        print(f"{name}: fixed seed {extra}  " + "  ".join(f"{t}.{m}={v:.4f}" for (t, v), m in
                                                       zip(noise[extra].items(), headline.values()))
              + f"  ({seconds:.0f} s)", flush=True)
    batches = timing_batches(runs["fixed"], ARGS.timing_steps)
    timing = time_steps(runs, batches, ARGS.timing_steps, ARGS.rounds)
    fixed = rows["fixed"]["metrics"]
    for method, row in rows.items():
        usable = {t: v for t, v in fixed.items() if v}  # a 0 baseline (e.g. --quick) has no relative change
        row["delta_vs_fixed"] = round(delta_m(row["metrics"], usable, lower), 3) if usable else float("nan")
        row["step"] = timing[method]
        row["step_ratio_wall"] = round(timing[method]["wall_ms"] / timing["fixed"]["wall_ms"], 3)
        row["step_ratio_cpu"] = round(timing[method]["cpu_ms"] / timing["fixed"]["cpu_ms"], 3)
        later = row["epoch_seconds"][1:] or row["epoch_seconds"]
        row["epoch_seconds_ratio"] = round(statistics.median(later) / statistics.median(
            rows["fixed"]["epoch_seconds"][1:] or rows["fixed"]["epoch_seconds"]), 3)
        print(f"{name}: {method:<12} step {timing[method]['wall_ms']:.2f} ms wall ({row['step_ratio_wall']:.2f}× fixed),"
              f" {timing[method]['cpu_ms']:.2f} ms CPU ({row['step_ratio_cpu']:.2f}×); Δ vs fixed "
              f"{row['delta_vs_fixed']:+.2f} %", flush=True)
    result = {"tasks": headline, "lower_is_better": lower, "seed": seed, "methods": rows,
              "fixed_other_seeds": noise, "config": base}
    if noise:
        spread = {}
        for t in headline:
            values = [fixed[t]] + [v[t] for v in noise.values()]
            spread[t] = {"mean": statistics.fmean(values), "std": statistics.stdev(values)}
        result["fixed_seed_spread"] = spread
    if profile:
        result["profile"] = profile_step(runs["fixed"], batches, ARGS.timing_steps, ARGS.rounds, methods)
        print(f"{name}: where the time goes (median ms): " + ", ".join(
            f"{k} {v:.2f}" for k, v in result["profile"]["ms"].items()), flush=True)
    return result


# ---- report --------------------------------------------------------------------------------
def table(problem: dict, labels: dict[str, str]) -> list[str]:
    tasks = problem["tasks"]
    head = " | ".join(f"{labels.get(t, t)} {m}{' ↓' if problem['lower_is_better'][t] else ''}"
                      for t, m in tasks.items())
    lines = [f"| method | {head} | Δ vs fixed (%) | step time × fixed (wall) | × fixed (CPU) | ms / step |",
             "|---|" + "---:|" * (len(tasks) + 4)]
    for method, row in problem["methods"].items():
        cells = " | ".join(f"{row['metrics'][t]:.4f}" for t in tasks)
        strong = method in TARGET_METHODS
        ratio = f"**{row['step_ratio_wall']:.2f}**" if strong else f"{row['step_ratio_wall']:.2f}"
        lines.append(f"| {describe(method)} | {cells} | {row['delta_vs_fixed']:+.1f} | {ratio} | {row['step_ratio_cpu']:.2f} | "
                     f"{row['step']['wall_ms']:.2f} |")
    if problem.get("fixed_seed_spread"):
        cells = " | ".join(f"{s['mean']:.4f} ± {s['std']:.4f}" for s in problem["fixed_seed_spread"].values())
        lines.append(f"| `fixed`, seeds {problem['seed']}, {', '.join(map(str, problem['fixed_other_seeds']))} "
                     f"(mean ± std) | {cells} | | | | |")
    return lines


def findings(result: dict) -> str:
    syn, cs = result["problems"]["synthetic"], result["problems"]["customer_service"]
    parts = []
    f = syn["methods"]["fixed"]["metrics"]
    best = max((m for m in syn["methods"] if m != "fixed"), key=lambda m: syn["methods"][m]["delta_vs_fixed"],
               default="fixed")
    b = syn["methods"][best]["metrics"]
    halved = [m for m, r in syn["methods"].items() if r["metrics"]["small"] < 0.5 * f["small"]]
    kept = [m for m in halved if syn["methods"][m]["metrics"]["big"] <= 1.1 * f["big"]]
    traded = [m for m in halved if m not in kept]
    text = (f"Synthetic pair: with `fixed` the shared trunk follows `big` (its squared error is ~10⁴× larger) and "
            f"`small` stays at RMSE {f['small']:.3f}, its target's std ({result['synthetic_data']['test']['std_small']}): "
            "nothing learned. " + (f"{len(kept)} of {len(syn['methods']) - 1} other rows at least halve it while "
            f"keeping `big` within 10 % of `fixed` ({', '.join(describe(m) for m in kept)})" if kept else
            "No other row halves it while keeping `big` within 10 % of `fixed`"))
    if traded:
        text += "; " + ", ".join(
            f"{describe(m)} halves it at the cost of `big` (RMSE {syn['methods'][m]['metrics']['big']:.1f} vs "
            f"{f['big']:.1f})" for m in traded)
    unlearned = [m for m, r in syn["methods"].items() if m != "fixed" and r["metrics"]["small"] > 0.8 * f["small"]]
    text += (f". The best Δ vs fixed is {describe(best)} ({syn['methods'][best]['delta_vs_fixed']:+.1f} %: small "
             f"{b['small']:.3f}, big {b['big']:.1f})"
             + (f"; {', '.join(describe(m) for m in unlearned)} leave `small` at > 80 % of `fixed`'s RMSE."
                if unlearned else "."))
    parts.append(text)
    spread = cs.get("fixed_seed_spread")
    if spread:
        text = (f"Customer service ({cs['config']['training']['epochs']} epochs: a short budget, slot F1 of `fixed` "
                "still rising): `fixed` over 3 seeds gives " + ", ".join(
                    f"{t} {s['mean']:.3f} ± {s['std']:.3f}" for t, s in spread.items())
                + "; one seed per method, so only differences well beyond that spread mean anything. Beyond 3 std "
                "of `fixed`: ")
        beyond = []
        for t, sp in spread.items():
            hi = [m for m, r in cs["methods"].items() if r["metrics"][t] > sp["mean"] + 3 * sp["std"]]
            lo = [m for m, r in cs["methods"].items() if r["metrics"][t] < sp["mean"] - 3 * sp["std"]]
            if hi:
                beyond.append(f"{t} higher with {', '.join(describe(m) for m in hi)}")
            if lo:
                beyond.append(f"{t} lower with {', '.join(describe(m) for m in lo)}")
        parts.append(text + ("; ".join(beyond) if beyond else "none") + ".")
    ratios = {m: cs["methods"][m]["step_ratio_wall"] for m in TARGET_METHODS if m in cs["methods"]}
    cpu = {m: cs["methods"][m]["step_ratio_cpu"] for m in ratios}
    met = [m for m, r in ratios.items() if r <= TARGET_RATIO]
    missed = [m for m in ratios if m not in met]
    text = ("Step time with 3 tasks (customer service, median per step): " + ", ".join(
        f"`{m}` {r:.2f}× `fixed` ({cpu[m]:.2f}× CPU)" for m, r in ratios.items()) + ". ")
    if missed:
        text += f"The ≤ {TARGET_RATIO}× target is missed by {', '.join(f'`{m}`' for m in missed)}"
        text += f" (met by {', '.join(f'`{m}`' for m in met)})." if met else "."
    else:
        text += f"The ≤ {TARGET_RATIO}× target is met by all three."
    variants = {m: cs["methods"][m] for m in cs["methods"] if m != base_method(m)}
    if variants:
        text += " Variants: " + "; ".join(
            f"{describe(m)} {r['step_ratio_wall']:.2f}× (Δ vs fixed {r['delta_vs_fixed']:+.1f} %, against "
            f"{cs['methods'].get(base_method(m), {}).get('delta_vs_fixed', float('nan')):+.1f} % for the exact method)"
            for m, r in variants.items()) + "."
    parts.append(text)
    prof = cs.get("profile")
    if prof:
        ms = list(prof["ms"].values())
        fwd, one, flat, many = ms[:4]
        fixed_ms = cs["methods"]["fixed"]["step"]["wall_ms"]
        updates = {k.split(":", 1)[1]: v for k, v in prof["ms"].items() if k.startswith("update:")}
        parts.append(
            f"Where the time goes (customer service, {prof['shared_parameters']:,} shared parameters, "
            f"{prof['tasks']} trained tasks; parts timed alone): the forward pass with the losses took {fwd:.1f} ms, "
            f"with `fixed`'s one backward pass {one:.1f} ms; computing the per-task gradients G instead — one "
            f"backward pass per task through the shared BiLSTM and embedding, each flattened into a dense row, "
            f"plus one for the heads — took {many:.1f} ms, {many / one:.2f}× the single backward "
            f"(flattening alone: {flat:.1f} ms, {flat / one:.2f}×), while the combination itself costs "
            + ", ".join(f"`{m}` {v:.2f} ms" for m, v in updates.items() if m in TARGET_METHODS)
            + f" (every gradient method: {min(updates.values()):.2f}–{max(updates.values()):.2f} ms). "
            "The backward passes through the shared encoder, not the balancing arithmetic, are the cost; the "
            "rest of a gradient-level step over the parts (the optimizer then updates the whole embedding table "
            "densely, where `fixed` updates only the looked-up rows) is visible in the step times "
            f"(`fixed` {fixed_ms:.1f} ms per step; G plus the combination alone is already "
            f"{(many + min(updates.values())) / fixed_ms:.1f}× that). Two settings avoid most of it: `training.balance.every: k` computes G "
            "on every k-th step only, and `training.balance.gradients: representation` differentiates each task only "
            "down to the shared representation and back-propagates the combination through the encoder once.")
    syn_ratios = {m: syn["methods"][m]["step_ratio_wall"] for m in TARGET_METHODS if m in syn["methods"]}
    parts.append("On the small synthetic MLP (2 tasks) the same methods ran at " + ", ".join(
        f"`{m}` {r:.2f}×" for m, r in syn_ratios.items()) + " `fixed`.")
    return " ".join(parts)


def markdown(result: dict) -> str:
    syn, cs = result["problems"]["synthetic"], result["problems"]["customer_service"]
    s = result["synthetic_data"]
    lines = [
        SECTION, "",
        "Every method of `mtlflow.balance.BALANCERS` (`training.balance.method`, default hyperparameters; "
        "rows with `every: k` recompute the method's weights on every k-th step only, rows with `gradients: "
        "representation` combine the tasks' gradients on the shared representation instead of the shared "
        "parameters), "
        "trained once per problem with the same data, seed and epochs, no early stopping and "
        "`training.diagnostics_every: null`; test-split headline metric per task, Δ vs fixed = the mean relative "
        "change over tasks against `fixed` (LibMTL's Δm, `mtlflow.compare.delta_m`; ↓ lower is better). Step time: "
        f"median of {result['timing']['calls_per_method']} calls of each trained model's compiled "
        f"`Trainer.train_function` (one step each) on the same {result['timing']['steps']} cached training batches, "
        "methods interleaved after training, relative to `fixed`.", "",
        "```", result["command"], "```", "",
        f"Run of {result['date']} ({result['seconds']:.0f} s): {result['machine']}.", "",
        f"**(a) Synthetic conflicting pair**: 8 numeric inputs (CSV), two regression tasks with `normalize: false`, "
        f"`big` on scale 100 (test std {s['test']['std_big']}, noise σ 20) and `small` on scale 1 (test std "
        f"{s['test']['std_small']}, noise σ 0.05), driven by directions with negative dot product, through a shared "
        f"MLP 64 → 4 and a 16-unit tower per task; {s['train']['rows']:,} training rows, {syn['config']['training']['epochs']} "
        "epochs, batch 64, Adam 3e-3.", "",
        *table(syn, {}), "",
        f"**(b) Customer service** (demo corpus, {result['customer_service_examples']:,} utterances generated, "
        f"80/10/10; the template's character BiLSTM; {cs['config']['training']['epochs']} epochs, batch 32): "
        "intent + slots + sentiment.", "",
        *table(cs, {}), "",
    ]
    prof = cs.get("profile")
    if prof:
        lines += ["Parts of a customer-service step timed alone (median ms per call, same batches):", "",
                  "| part | ms |", "|---|---:|"]
        lines += [f"| {k} | {v:.2f} |" for k, v in prof["ms"].items()]
        lines += [""]
    lines += ["**Findings.** " + findings(result), ""]
    return "\n".join(lines)


def machine() -> str:
    import keras
    import tensorflow as tf

    model = platform.processor() or platform.machine()
    try:
        model = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    return f"{model}, {os.cpu_count()} CPUs (load average {load:.2f} at start), TensorFlow {tf.__version__}, " \
           f"Keras {keras.__version__}"


ARGS = argparse.Namespace()


def main(argv: list[str] | None = None) -> int:
    global ARGS
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, writes nothing")
    parser.add_argument("--methods", nargs="+", help="subset of methods (default: every one; fixed is always run)")
    parser.add_argument("--variants", nargs="*", default=["pcgrad@4", "pcgrad+rep", "cagrad+rep", "mgda+rep"],
                        help="extra rows: METHOD@K (training.balance.every: K), METHOD+rep (training.balance."
                             "gradients: representation); default pcgrad@4 pcgrad+rep cagrad+rep mgda+rep")
    parser.add_argument("--examples", type=int, help="customer-service corpus size (default 2000; quick 600)")
    parser.add_argument("--epochs", type=int, help="customer-service epochs (default 5; quick 1)")
    parser.add_argument("--synthetic-rows", type=int, help="synthetic training rows (default 6000; quick 1000)")
    parser.add_argument("--synthetic-epochs", type=int, help="synthetic epochs (default 15; quick 2)")
    parser.add_argument("--noise-seeds", type=int, nargs="*", help="extra seeds for fixed (default 2 3; quick none)")
    parser.add_argument("--timing-steps", type=int, help="timed calls per method and round (default 25; quick 5)")
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds (default 4; quick 2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--output", type=Path, help="results JSON (default benchmarks/results/balancers.json; "
                        "quick: none)")
    parser.add_argument("--markdown", type=Path, help="markdown to update (default BENCHMARKS.md; quick: none)")
    parser.add_argument("--render", type=Path, metavar="RESULT_JSON",
                        help="only rewrite the BENCHMARKS.md section from a results JSON")
    ARGS = args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text("utf-8"))
        replace_section(args.markdown or ROOT / "BENCHMARKS.md", SECTION, markdown(result))
        print(markdown(result))
        return 0
    quick = args.quick
    args.examples = args.examples or (600 if quick else 2000)
    args.epochs = args.epochs or (1 if quick else 5)
    args.synthetic_rows = args.synthetic_rows or (1000 if quick else 6000)
    args.synthetic_epochs = args.synthetic_epochs or (2 if quick else 15)
    args.noise_seeds = args.noise_seeds if args.noise_seeds is not None else ([] if quick else [2, 3])
    args.timing_steps = args.timing_steps or (5 if quick else 25)
    args.rounds = args.rounds or (2 if quick else 4)
    if not quick:
        args.output = args.output or RESULT
        args.markdown = args.markdown or ROOT / "BENCHMARKS.md"
    from mtlflow.balance import BALANCERS

    methods = ["fixed"] + [m for m in (args.methods or BALANCERS) if m != "fixed"] + list(args.variants)
    unknown = [m for m in methods if base_method(m) not in BALANCERS]
    if unknown:
        parser.error(f"unknown method(s) {unknown}; known: {', '.join(BALANCERS)}")
    began = time.perf_counter()
    info = machine()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "synthetic").mkdir()
        stats = write_synthetic(tmp / "synthetic", args.synthetic_rows, max(500, args.synthetic_rows // 3))
        syn = run_problem("synthetic", synthetic_config(tmp / "synthetic", args.synthetic_epochs), methods, args.seed,
                          args.noise_seeds, tmp, profile=False)
        cs = run_problem("customer_service", customer_service_config(tmp / "corpus", args.epochs, args.examples), methods,
                         args.seed, args.noise_seeds, tmp, profile=True)
    result = {
        "benchmark": "balancers",
        "command": "python benchmarks/balancers.py" + (" " + " ".join(argv) if argv else ""),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "load_average_after": round(os.getloadavg()[0], 2),
        "seconds": round(time.perf_counter() - began, 1),
        "methods": methods,
        "target": f"{', '.join(TARGET_METHODS)} with 3 tasks <= {TARGET_RATIO}x the step time of fixed",
        "timing": {"steps": args.timing_steps, "rounds": args.rounds, "warmup_calls_per_round": 3,
                   "calls_per_method": args.timing_steps * args.rounds},
        "synthetic_data": stats,
        "customer_service_examples": args.examples,
        "problems": {"synthetic": syn, "customer_service": cs},
    }
    save(result, markdown(result), args.output, args.markdown, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
