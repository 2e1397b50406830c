"""Expert utilisation of gated sharing layers (MMoE, CGC, PLE): table, plot, collapse check.

A gate ``g_k(x)`` is a softmax over the experts task ``k`` reads. Its mean over a split,
``ḡ_k = (1/N) Σ_x g_k(x)``, says how much task ``k`` relies on each expert. A known failure
of MoE layers is collapse: every gate puts its weight on the same one or two experts and
the rest are dead weight. An expert is flagged *unused* when no task gives it more than
``unused_fraction`` of the uniform weight ``1 / E`` (E = experts that task's gate sees).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

UNUSED_FRACTION = 0.1


def summarise_gates(means: dict[str, np.ndarray], names: dict[str, list[str]],
                    unused_fraction: float = UNUSED_FRACTION) -> dict:
    """``{"tasks": {task: {expert: mean weight}}, "unused": [expert, ...]}``."""
    tasks = {t: {name: float(w) for name, w in zip(names.get(t) or _default_names(len(m)), m)}
             for t, m in means.items()}
    best: dict[str, float] = {}
    for weights in tasks.values():
        uniform = 1.0 / max(len(weights), 1)
        for expert, w in weights.items():
            best[expert] = max(best.get(expert, 0.0), w / uniform)
    unused = [e for e, ratio in best.items() if ratio < unused_fraction]
    return {"tasks": tasks, "unused": unused, "unused_fraction": unused_fraction}


def gates_markdown(summary: dict) -> str:
    """A task × expert table of mean gate weights, and the unused experts."""
    experts = list(dict.fromkeys(e for w in summary["tasks"].values() for e in w))
    lines = ["| task | " + " | ".join(experts) + " |", "|---|" + "---:|" * len(experts)]
    for task, weights in summary["tasks"].items():
        cells = [f"{weights[e]:.3f}" if e in weights else "" for e in experts]
        lines.append(f"| {task} | " + " | ".join(cells) + " |")
    if summary["unused"]:
        lines.append("")
        lines.append(f"Unused experts (no task gives them {summary['unused_fraction']:.0%} of a uniform share): "
                     + ", ".join(summary["unused"]) + ". The gates may have collapsed: try fewer experts, "
                     "gate dropout, or a different seed.")
    return "\n".join(lines) + "\n"


def plot_gates(summary: dict, path: str | Path) -> Path | None:
    """A heatmap of mean gate weight per task (rows) × expert (columns)."""
    if not summary["tasks"]:
        return None
    from matplotlib.figure import Figure

    experts = list(dict.fromkeys(e for w in summary["tasks"].values() for e in w))
    tasks = list(summary["tasks"])
    grid = np.array([[summary["tasks"][t].get(e, np.nan) for e in experts] for t in tasks])
    fig = Figure(figsize=(1.2 + 0.7 * len(experts), 1.2 + 0.5 * len(tasks)))  # not pyplot: no backend switch
    ax = fig.subplots()
    image = ax.imshow(grid, cmap="viridis", vmin=0.0, aspect="auto")
    ax.set_xticks(range(len(experts)), experts, rotation=45, ha="right")
    ax.set_yticks(range(len(tasks)), tasks)
    for i in range(len(tasks)):
        for j in range(len(experts)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_title("mean gate weight per task × expert")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def _default_names(n: int) -> list[str]:
    return [f"expert_{i}" for i in range(n)]
