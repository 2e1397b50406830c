"""Training curves as a PNG: per-task training loss and validation metric, epoch by epoch."""

from __future__ import annotations

from pathlib import Path

from mtlflow.evaluate.report import HEADLINE_METRICS


def plot_history(history: dict, path: str | Path) -> Path | None:
    """Writes ``path`` (two panels: training loss per task; each task's headline
    validation metric and the joint accuracy). Returns None when there is nothing to plot."""
    epochs = history.get("epochs") or []
    if not epochs:
        return None
    from matplotlib.figure import Figure

    x = [e["epoch"] for e in epochs]
    tasks = list(epochs[0]["train_loss"])
    has_validation = "validation" in epochs[0]
    fig = Figure(figsize=(11 if has_validation else 6, 4))  # not pyplot: the caller's backend stays as it is
    axes = fig.subplots(1, 2 if has_validation else 1, squeeze=False)
    left = axes[0][0]
    for task in tasks:
        left.plot(x, [e["train_loss"][task] for e in epochs], marker="o", ms=3, label=task)
    left.set(title="training loss (masked mean per task)", xlabel="epoch", yscale="log")
    left.legend()
    if has_validation:
        right = axes[0][1]
        for task in tasks + ["joint"]:
            metrics = epochs[0]["validation"].get(task, {})
            metric = next((m for m in HEADLINE_METRICS if m in metrics), None)
            if metric is not None:
                right.plot(x, [e["validation"][task].get(metric) for e in epochs], marker="o", ms=3,
                           label=f"{task}.{metric}")
        if history.get("best_epoch"):
            right.axvline(history["best_epoch"], color="grey", ls="--", lw=1, label="kept (best)")
        right.set(title="validation", xlabel="epoch")
        right.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path
