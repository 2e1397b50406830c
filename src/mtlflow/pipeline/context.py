"""What every stage is given (:class:`PipelineContext`) and returns (:class:`StageOutcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mtlflow.config import Config


@dataclass
class PipelineContext:
    """One pipeline run's settings.

    Attributes:
      config_path: the YAML config file (relative paths in it are relative to its folder).
      config: the validated config, profile applied, data paths absolute.
      profile: the ``profiles`` entry applied, if any.
      run_dir: where every stage's folder and ``pipeline.json`` go.
      serving_dir: the served model's base path (numbered versions).
      verbose: print training progress and reports.
    """

    config_path: Path
    config: Config
    profile: str | None
    run_dir: Path
    serving_dir: Path
    verbose: bool = True

    def log(self, line: str) -> None:
        print(line, flush=True)

    def detail(self, line: str) -> None:
        """Reports and progress within a stage (silent with ``verbose=False``)."""
        if self.verbose:
            print(line, flush=True)

    def splits(self) -> dict[str, str]:
        """``{split: data path}`` of the splits the config gives as files (train first)."""
        data = self.config.data
        return {name: path for name, path in (("train", data.train), ("validation", data.validation),
                                              ("test", data.test)) if path}

    def evaluation_split(self) -> tuple[str, str | None]:
        """The split the model is judged on: test if given, else validation, else the
        seeded hold-out of train (``(name, path)``; path None for the hold-out)."""
        data = self.config.data
        if data.test:
            return "test", data.test
        if data.validation:
            return "validation", data.validation
        return "validation (held out of train)", None


class StageOutcome(NamedTuple):
    """What a stage did.

    Attributes:
      outputs: files or folders it wrote inside its stage folder.
      message: a one-line summary.
      failure: set when the stage wrote its report but the pipeline must stop (e.g.
        error-level anomalies); the message says why.
      status: ``ran``, or ``skipped`` / ``cached`` for a push that had nothing to do.
    """

    outputs: list[Path]
    message: str
    failure: str | None = None
    status: str = "ran"
