"""``mtlflow`` command line: a thin layer over :mod:`mtlflow.run`.

Errors a user can cause print one line, ``mtlflow: <kind>: <message>``, and exit 2
(config/data/usage) or 1 (training failed); no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mtlflow import preflight
from mtlflow.errors import MtlflowError
from mtlflow.quiet_tensorflow import filtered_stderr, import_tensorflow

TEMPLATES = {
    "customer_service": "customer_service.yaml",  # with its generated corpus
    "demo": "customer_service.yaml",
    "snips": "snips.yaml",  # JointBERT-format intent + slots; bring the data
    "nlu": "nlu.yaml",  # intent + slots, JointBERT or CoNLL, English or Chinese; bring the data
    "sentence_vectors": "sentence_vectors.yaml",  # 768-d vectors → two heads; bring the data
}
WITH_DATA = {"customer_service.yaml"}
DEMO_TEXT = "我想取消昨天下的订单"


def _parser() -> argparse.ArgumentParser:
    from mtlflow import __version__

    parser = argparse.ArgumentParser(prog="mtlflow", description="Config-driven multi-task learning on TensorFlow.")
    parser.add_argument("--version", action="version", version=f"mtlflow {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("demo", help="generate the customer-service corpus, train, evaluate, export, predict")
    p.add_argument("--out", help="run directory (default: runs/demo-<time>)")
    p.add_argument("--examples", type=int, default=6000, help="corpus size (default 6000)")
    p.add_argument("--epochs", type=int, help="override training.epochs")

    p = sub.add_parser("train", help="train a model from a YAML config")
    p.add_argument("config", help="the YAML config (see `mtlflow schema`, `mtlflow init`)")
    p.add_argument("--out", help="run directory (default: runs/<config>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue from the run directory's last checkpoint")
    p.add_argument("--profile", help="apply the config's profiles.PROFILE overrides (e.g. smoke)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                   help="override one config value, validated like the file (repeatable; VALUE is YAML), "
                        "e.g. --set training.epochs=2 --set training.seed=7")
    p.add_argument("--quiet", action="store_true",
                   help="no per-epoch lines or progress bar; print the test metrics and paths only")

    p = sub.add_parser("evaluate", help="metrics of a trained run")
    p.add_argument("run_dir", help="a trained run directory (mtlflow train --out)")
    p.add_argument("--data", help="data file/dir to evaluate on (default: the config's test split)")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = sub.add_parser("predict", help="predict every task for texts or a JSONL file")
    p.add_argument("run_dir", help="a trained run directory (mtlflow train --out)")
    p.add_argument("text", nargs="*", help="texts to predict (for models with a text input)")
    p.add_argument("--input", help="JSONL file: one object of raw input columns per line")
    p.add_argument("--json", action="store_true", help="print one JSON object per example")

    p = sub.add_parser("export", help="export a run as a SavedModel into EXPORT_BASE/<version>/")
    p.add_argument("run_dir", help="a trained run directory (mtlflow train --out)")
    p.add_argument("export_base", help="the model's base directory; the SavedModel goes to EXPORT_BASE/<version>/")
    p.add_argument("--version", type=int, help="version number (default: next free)")

    sub.add_parser("schema", help="print the JSON schema of the config")

    p = sub.add_parser("init", help="write a ready example config (and its data) into DIR")
    p.add_argument("template", help=f"one of: {', '.join(TEMPLATES)}")
    p.add_argument("directory", help="where to write config.yaml (and the template's data); must not hold one")

    from mtlflow import compare, diagnose
    from mtlflow.serving import cli as serving_cli

    p = sub.add_parser("diagnose", help="negative-transfer report of a run: task-gradient cosines, conflicts, weights")
    diagnose.add_arguments(p)
    p = sub.add_parser("compare", help="multi-task vs one single-task model per task on the same budget (Δm)")
    compare.add_arguments(p)

    p = sub.add_parser("embed", help="add sentence vectors from a pretrained encoder to a data file (JSONL out)")
    p.add_argument("input", help="data file or JointBERT directory with a text column")
    p.add_argument("output", help="JSON Lines file to write: every input row plus the vector")
    p.add_argument("--encoder", required=True, help="BERT checkpoint directory (config.json, model.safetensors, vocab.txt)")
    p.add_argument("--column", default="text", help="text column (default: text)")
    p.add_argument("--output-column", default="vector", help="name of the vector field (default: vector)")
    p.add_argument("--batch-size", type=int, default=64, help="texts encoded at once (default 64)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="L2-normalise the vectors (default: as the checkpoint's modules.json says)")

    p = sub.add_parser("serve", help="serve exported models over TF Serving's REST and gRPC APIs")
    serving_cli.add_arguments(p)

    p = sub.add_parser("pipeline", help="validate → transform → train → evaluate → gate → push, with cached stages")
    p.add_argument("config", help="the YAML config (its pipeline: section sets validation, gate and slices)")
    p.add_argument("--serving-dir", required=True,
                   help="the served model's base path; a blessed model becomes its next version")
    p.add_argument("--out", help="run directory (default: runs/pipeline-<config>)")
    p.add_argument("--profile", help="apply the config's profiles.PROFILE overrides (e.g. smoke)")
    p.add_argument("--no-cache", action="store_true", help="run every stage again (a served model is never pushed twice)")
    p.add_argument("--quiet", action="store_true", help="print the stage lines and the verdict only")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parses, checks everything that needs no TensorFlow, then runs the command.

    TensorFlow loads only after the arguments, paths and config are known to be good
    (:mod:`mtlflow.preflight`), and its start-up lines are filtered out of stderr
    (:mod:`mtlflow.quiet_tensorflow`).
    """
    args = _parser().parse_args(argv)
    try:
        preflight.check(args)
        with filtered_stderr():
            if args.command not in preflight.WITHOUT_TENSORFLOW:
                import_tensorflow()
            return COMMANDS[args.command](args) or 0
    except MtlflowError as exc:
        print(f"mtlflow: {exc.kind}: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:  # `mtlflow schema | head`: the reader left; nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("mtlflow: interrupted", file=sys.stderr)
        return 130


# ---- commands ---------------------------------------------------------------------------


def cmd_schema(args) -> int:
    from mtlflow.config import config_schema

    print(json.dumps(config_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_init(args) -> int:
    template = TEMPLATES.get(args.template)
    if template is None:
        raise MtlflowError(f"unknown template {args.template!r}; available: {', '.join(TEMPLATES)}")
    directory = Path(args.directory)
    config_path = directory / "config.yaml"
    if config_path.exists():
        raise MtlflowError(f"{config_path} already exists; pick an empty directory")
    write_template(template, directory)
    if template in WITH_DATA:
        print(f"wrote {config_path} and its data; train it with: mtlflow train {config_path}")
    else:
        print(f"wrote {config_path}; point its data paths at your files, then: mtlflow train {config_path}")
    return 0


def write_template(template: str, directory: Path, examples: int = 6000, seed: int = 0) -> Path:
    from importlib.resources import files

    from mtlflow.data.customer_service import write_corpus

    directory.mkdir(parents=True, exist_ok=True)
    if template in WITH_DATA:
        write_corpus(directory, n=examples, seed=seed)
    config_path = directory / "config.yaml"
    config_path.write_text(files("mtlflow.templates").joinpath(template).read_text("utf-8"), "utf-8")
    return config_path


def cmd_train(args) -> int:
    from mtlflow.run import train

    run, metrics = train(args.config, args.out, resume=args.resume, verbose=not args.quiet, profile=args.profile,
                         overrides=args.set)
    _print_metrics(metrics)
    print(f"run directory: {run.directory}")
    export = _latest_export(run)
    if export is not None:
        print(f"exported SavedModel: {export}")
    return 0


def _latest_export(run) -> Path | None:
    """The newest complete ``export/<version>/`` of a run just trained (None when not exported)."""
    from mtlflow.export.saved_model import complete_versions

    if not run.config.export.base_dir:
        return None
    base = run.directory / run.config.export.base_dir
    versions = complete_versions(base) if base.is_dir() else []
    return base / str(versions[-1]) if versions else None


def cmd_demo(args) -> int:
    from mtlflow.run import train

    began = time.perf_counter()
    out = Path(args.out or f"runs/demo-{time.strftime('%Y%m%d-%H%M%S')}")
    if (out / "checkpoints").exists():
        raise MtlflowError(f"{out}: already holds a trained run; pick another --out")
    print(f"mtlflow demo: generating {args.examples} customer-service utterances in {out / 'data'}")
    config_path = write_template("customer_service.yaml", out / "data", examples=args.examples)
    if args.epochs:
        import yaml

        raw = yaml.safe_load(config_path.read_text("utf-8"))
        raw["training"]["epochs"] = args.epochs
        config_path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    run, metrics = train(config_path, out)
    _print_metrics(metrics)
    export = sorted((out / "export").iterdir())[-1]
    print(f"exported SavedModel: {export}")
    from mtlflow.run import load_run

    reloaded = load_run(out)
    _print_predictions(reloaded.inference(), [{reloaded.config.inputs.text.column: DEMO_TEXT}], as_json=False)
    print(f"\ndone in {time.perf_counter() - began:.0f}s; run directory: {out}")
    print(f"next: mtlflow predict {out} \"帮我查一下快递到哪了\"   |   mtlflow evaluate {out}")
    return 0


def cmd_evaluate(args) -> int:
    from mtlflow.run import evaluate_run, load_run

    run = load_run(args.run_dir)
    metrics = evaluate_run(run, args.data, log=lambda line: print(line, file=sys.stderr))
    if args.json:
        from mtlflow.evaluate.report import json_safe

        print(json.dumps(json_safe(metrics), ensure_ascii=False, indent=1))
    else:
        _print_metrics(metrics)
        if run.gates:
            from mtlflow.evaluate.gates import gates_markdown

            print(f"\nmean gate weight per task × expert (plot: {run.directory / 'gates.png'}):")
            print(gates_markdown(run.gates), end="")
    return 0


def cmd_predict(args) -> int:
    from mtlflow.run import load_run

    run = load_run(args.run_dir)
    if args.input:
        records = _read_jsonl(Path(args.input))
    elif args.text:
        if run.config.inputs.text is None:
            raise MtlflowError("this model has no text input; pass --input FILE.jsonl with its input columns")
        records = [{run.config.inputs.text.column: t} for t in args.text]
    else:
        raise MtlflowError("nothing to predict: give texts or --input FILE.jsonl")
    _print_predictions(run.inference(), records, as_json=args.json)
    return 0


def cmd_embed(args) -> int:
    from mtlflow.embed import embed_file

    count = embed_file(args.encoder, args.input, args.output, column=args.column, output_column=args.output_column,
                       batch_size=args.batch_size, normalize=args.normalize)
    print(f"wrote {count} rows with {args.output_column!r} vectors to {args.output}")
    return 0


def cmd_pipeline(args) -> int:
    from mtlflow.pipeline.runner import run_pipeline

    run_pipeline(args.config, args.serving_dir, args.out, profile=args.profile, verbose=not args.quiet,
                 use_cache=not args.no_cache)
    return 0


def cmd_export(args) -> int:
    from mtlflow.run import export_run, load_run

    path = export_run(load_run(args.run_dir), args.export_base, args.version)
    print(f"exported SavedModel: {path}")
    return 0


COMMANDS = {
    "demo": cmd_demo, "train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict,
    "export": cmd_export, "schema": cmd_schema, "init": cmd_init,
    "diagnose": lambda args: __import__("mtlflow.diagnose", fromlist=["main"]).main(args),
    "compare": lambda args: __import__("mtlflow.compare", fromlist=["main"]).main(args),
    "embed": cmd_embed,
    "serve": lambda args: __import__("mtlflow.serving.cli", fromlist=["main"]).main(args),
    "pipeline": cmd_pipeline,
}


# ---- output -----------------------------------------------------------------------------


def _print_metrics(metrics: dict) -> None:
    from mtlflow.evaluate.report import metrics_markdown

    if metrics:
        print(metrics_markdown({k: v for k, v in metrics.items() if isinstance(v, dict)}))


def _read_jsonl(path: Path) -> list[dict]:
    from mtlflow.data.readers import read_table

    return read_table(path, "jsonl").rows


def _print_predictions(module, records: list[dict], as_json: bool) -> None:
    signature = module.signature
    missing = [c for c in signature if any(c not in r for r in records)]
    if missing:
        raise MtlflowError(f"input records lack column {missing[0]!r}; the model takes {', '.join(signature)}")
    columns = {c: [r[c] for r in records] for c in signature}
    predictions = module.predict(columns)
    text_column = next((c for c, s in signature.items() if s.dtype.name == "string" and s.shape.rank == 1), None)
    for record, prediction in zip(records, predictions):
        if as_json:
            print(json.dumps({"input": record, "prediction": prediction}, ensure_ascii=False))
            continue
        print(f"\n{record.get(text_column, '') if text_column else json.dumps(record, ensure_ascii=False)}")
        for task, value in prediction.items():
            print(f"  {task:<12} {_summary(value)}")


def _summary(value: dict) -> str:
    if "spans" in value:
        spans = "  ".join(f"{s['type']}={s['text']} ({s['score']:.2f})" for s in value["spans"])
        return spans or "(no spans)"
    if "label" in value and "score" in value:
        return f"{value['label']} ({value['score']:.2f})"
    if "probability" in value:
        return f"{value['label']} (p={value['probability']:.2f})"
    if "labels" in value:
        return ", ".join(f"{l} ({value['probabilities'][l]:.2f})" for l in value["labels"]) or "(none)"
    return f"{value['value']:.4f}"


if __name__ == "__main__":
    sys.exit(main())
