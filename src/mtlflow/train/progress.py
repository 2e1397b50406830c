"""What the training loop prints: a progress bar within each epoch (on a terminal only), one
line per epoch, and one line saying which epoch's weights are kept when early stopping is on."""

from __future__ import annotations

import sys
import time

from mtlflow.evaluate.report import HEADLINE_METRICS


class Progress:
    """Redraws ``label [####....] step/total 812 ex/s eta 41s - task=loss ...`` at most 5 times a second.

    The losses are the running means of the epoch so far; examples per second count
    ``examples_per_step`` per step (the batch size; the last batch of an epoch may be
    smaller). On a terminal only; in logs and CI the per-epoch summary line says it all.
    """

    def __init__(self, total: int | None, label: str, enabled: bool = True, stream=None,
                 examples_per_step: int | None = None):
        self.stream = stream or sys.stdout
        self.total, self.label = total, label
        self.examples_per_step = examples_per_step
        self.enabled = enabled and self.stream.isatty()
        self.began = self.last = time.perf_counter()
        self.width = 0

    def update(self, step: int, values: dict[str, float]) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and step != self.total):
            return
        self.last = now
        elapsed = now - self.began
        rate = f" {self.examples_per_step * step / elapsed:.0f} ex/s" if self.examples_per_step and elapsed > 0 else ""
        if self.total:
            filled = int(20 * step / self.total)
            eta = elapsed / step * (self.total - step)
            head = f"{self.label} [{'#' * filled}{'.' * (20 - filled)}] {step}/{self.total}{rate} eta {eta:.0f}s"
        else:
            head = f"{self.label} step {step}{rate} {elapsed:.0f}s"
        line = head + " - " + " ".join(f"{k}={v:.4f}" for k, v in values.items())
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()
        self.width = len(line)

    def close(self) -> None:
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


def epoch_line(record: dict, epochs: int, improved_monitor: str | None) -> str:
    """The one line printed after each epoch: time, train losses, validation headline metrics."""
    losses = " ".join(f"{k}={v:.4f}" for k, v in record["train_loss"].items())
    line = f"epoch {record['epoch']}/{epochs} ({record['seconds']:.1f}s) train loss: {losses}"
    validation = record.get("validation")
    if validation:
        parts = []
        for name, metrics in validation.items():
            headline = next((k for k in HEADLINE_METRICS if k in metrics), None)
            if headline is not None and metrics[headline] is not None:
                parts.append(f"{name}.{headline}={metrics[headline]:.4f}")
        line += " | validation: " + " ".join(parts)
    if improved_monitor:
        line += f" (best {improved_monitor} so far: kept)"
    return line


def early_stopping_line(history, monitor: str, patience: int, best_epoch: int | None, restored: bool) -> str | None:
    """The line that says how early stopping ended the run and which weights the test metrics use.

    ``history``: the :class:`~mtlflow.train.history.History` of ``fit``; ``best_epoch``: the epoch
    whose weights were kept (None when no checkpoint was kept); ``restored``: whether they were
    restored (the test metrics and the export use them).
    """
    if not history.epochs:
        return None
    last = history.epochs[-1]["epoch"]
    value = history.best_value
    best = (f"best {monitor} {value:.4f} at epoch {best_epoch}" if value is not None and best_epoch is not None
            else f"{monitor} never gave a number, so the last epoch's weights are kept")
    kept = f"; the test metrics use epoch {best_epoch}'s weights" if restored and best_epoch is not None else ""
    if history.stopped_early:
        return (f"early stopping: stopped at epoch {last} ({monitor} did not improve for {patience} "
                f"epoch{'s' if patience != 1 else ''}); {best}{kept}")
    if best_epoch is not None and best_epoch != last:
        return f"early stopping: ran all {last} epochs; {best}{kept}"
    return None
