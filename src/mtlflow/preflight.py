"""What each command checks before TensorFlow loads: arguments, paths, the config.

Every check here imports neither TensorFlow nor Keras, so a typo in a path, a config
error, an export version that exists already or a run directory that does not exist is
reported in well under a second, not after the 5–30 s TensorFlow takes to import.
Each raises :class:`~mtlflow.errors.MtlflowError` (or its :class:`ConfigError`) with the
same message the library would give later.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mtlflow.errors import ConfigError, MtlflowError

# commands that never need TensorFlow
WITHOUT_TENSORFLOW = {"schema", "init", "diagnose"}


def check(args: argparse.Namespace) -> None:
    """Runs the checks of ``args.command`` (none for commands not listed)."""
    checker = _CHECKS.get(args.command)
    if checker is not None:
        checker(args)


def _train(args) -> None:
    from mtlflow.config import load_config

    load_config(args.config, args.profile, args.set or ())
    if args.resume:
        if not args.out:
            raise MtlflowError("--resume continues a run: give its directory with --out RUN_DIR")
        if not (Path(args.out) / "checkpoints").is_dir():
            raise MtlflowError(f"{args.out}: no run to resume (no checkpoints/); train into it without --resume")
    elif args.out and (Path(args.out) / "checkpoints").exists():
        raise MtlflowError(f"{args.out}: run directory already holds a run; pass --resume to continue it "
                           "or pick another --out")


def _pipeline(args) -> None:
    from mtlflow.config import load_config

    load_config(args.config, args.profile)


def _compare(args) -> None:
    from mtlflow.config import load_config

    load_config(args.config)


def run_directory(run_dir: str) -> Path:
    """``run_dir`` if it holds a valid run config; the error says how to make one otherwise."""
    import yaml

    from mtlflow.config import parse_config

    path = Path(run_dir)
    if not (path / "config.yaml").is_file():
        raise MtlflowError(f"{path}: not a run directory (no config.yaml); "
                           f"train one with `mtlflow train CONFIG --out {path}`")
    try:
        raw = yaml.safe_load((path / "config.yaml").read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path / 'config.yaml'}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from None
    parse_config(raw, str(path / "config.yaml"))
    return path


def _existing_file(path: str | None, what: str) -> None:
    if path is not None and not Path(path).exists():
        raise MtlflowError(f"{path}: no such {what}")


def _evaluate(args) -> None:
    run_directory(args.run_dir)
    _existing_file(args.data, "data file or directory (--data)")


def _predict(args) -> None:
    run_directory(args.run_dir)
    _existing_file(args.input, "input file (--input)")
    if not args.input and not args.text:
        raise MtlflowError("nothing to predict: give texts or --input FILE.jsonl")


def _export(args) -> None:
    run_directory(args.run_dir)
    if args.version is not None:
        if args.version < 0:
            raise MtlflowError(f"--version must be a non-negative integer, got {args.version}")
        target = Path(args.export_base) / str(args.version)
        if target.exists():
            raise MtlflowError(f"{target}: version {args.version} already exists; pick another --version or remove it")


def _embed(args) -> None:
    _existing_file(args.input, "input file or directory")
    if not Path(args.encoder).is_dir():
        raise MtlflowError(f"{args.encoder}: no such encoder directory (--encoder: config.json, "
                           "model.safetensors, vocab.txt)")


def _demo(args) -> None:
    if args.out and (Path(args.out) / "checkpoints").exists():
        raise MtlflowError(f"{args.out}: already holds a trained run; pick another --out")


_CHECKS = {
    "train": _train, "pipeline": _pipeline, "compare": _compare, "evaluate": _evaluate, "predict": _predict,
    "export": _export, "embed": _embed, "demo": _demo,
}
