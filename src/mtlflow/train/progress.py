"""A one-line progress display for the training loop (silent when not on a terminal)."""

from __future__ import annotations

import sys
import time

from mtlflow.evaluate.report import HEADLINE_METRICS


class Progress:
    """Redraws ``label [####....] step/total eta - task=loss ...`` at most 5 times a second.

    On a terminal only; in logs and CI the per-epoch summary line says it all.
    """

    def __init__(self, total: int | None, label: str, enabled: bool = True, stream=None):
        self.stream = stream or sys.stdout
        self.total, self.label = total, label
        self.enabled = enabled and self.stream.isatty()
        self.began = self.last = time.perf_counter()
        self.width = 0

    def update(self, step: int, values: dict[str, float]) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and step != self.total):
            return
        self.last = now
        elapsed = now - self.began
        if self.total:
            filled = int(20 * step / self.total)
            eta = elapsed / step * (self.total - step)
            head = f"{self.label} [{'#' * filled}{'.' * (20 - filled)}] {step}/{self.total} eta {eta:.0f}s"
        else:
            head = f"{self.label} step {step} {elapsed:.0f}s"
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
