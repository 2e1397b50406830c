"""Writes the data of an example into its folder: one command per example.

Usage::

    python examples/prepare.py NAME [--out DIR] [--scale S] [--raw PATH]

``NAME`` is an example folder (see ``EXAMPLES``); the data goes to ``examples/NAME/data/``
(``--out`` elsewhere), where ``examples/NAME/config.yaml`` reads it. Generated examples
accept ``--scale`` (multiply the number of rows; the smoke tests use small ones);
``census_mmoe`` splits the raw Census-Income file (``--raw``, default: the project's
shared data folder beside the checkout). The generated files are not committed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
CENSUS_RAW = SHARED / "census-income" / "census-income.test.gz"


def customer_service(out: Path, scale: float = 1.0, raw: Path | None = None) -> dict[str, Path]:
    """The demo corpus (``mtlflow demo``'s): 6,000 utterances × ``scale``, 80/10/10."""
    from mtlflow.data.customer_service import write_corpus

    return write_corpus(out, n=max(100, int(round(6000 * scale))), seed=0)


def esmm(out: Path, scale: float = 1.0, raw: Path | None = None) -> dict[str, Path]:
    """Impressions of the synthetic ESMM world (BENCHMARKS.md's "sparse" one: ~5% clicked,
    1,000-valued ids, click and conversion driven by nearly the same features):
    200,000 / 20,000 / 50,000 × ``scale`` impressions."""
    from mtlflow.data.synthetic_ctr import ctr_cvr_synthetic, write_csv

    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, (split, rows) in enumerate({"train": 200_000, "validation": 20_000, "test": 50_000}.items()):
        columns = ctr_cvr_synthetic(max(1, int(round(rows * scale))), cardinality=1000, ctr_bias=-6.0,
                                    overlap=0.9, seed=i, world_seed=0)
        paths[split] = out / f"{split}.csv"
        tmp = paths[split].with_name(paths[split].name + ".tmp")
        write_csv(columns, tmp)
        tmp.replace(paths[split])
    return paths


def census_mmoe(out: Path, scale: float = 1.0, raw: Path | None = None) -> dict[str, Path]:
    """Census-Income (KDD) test file split 50/25/25 with seed 0, as ``benchmarks/census.py``."""
    from mtlflow.data.census import prepare_census

    if scale != 1.0:
        raise SystemExit("census_mmoe: --scale does not apply (the split is fixed); use the smoke profile's data.max_rows")
    return prepare_census(raw or CENSUS_RAW, out, seed=0)


def multi_diagnosis(out: Path, scale: float = 1.0, raw: Path | None = None) -> dict[str, Path]:
    """Synthetic inpatient records (:mod:`mtlflow.data.synthetic_clinical`), 20,000 / 2,500 / 5,000 × ``scale``."""
    from mtlflow.data.synthetic_clinical import write_splits

    return write_splits(out, scale=scale)


def sentence_vectors(out: Path, scale: float = 1.0, raw: Path | None = None) -> dict[str, Path]:
    """Synthetic 768-d vectors (:mod:`mtlflow.data.synthetic_vectors`), 6,000 / 1,000 / 2,000 × ``scale``."""
    from mtlflow.data.synthetic_vectors import write_splits

    return write_splits(out, scale=scale)


EXAMPLES = {f.__name__: f for f in (customer_service, esmm, census_mmoe, multi_diagnosis, sentence_vectors)}


def prepare(name: str, out: str | Path | None = None, scale: float = 1.0, raw: str | Path | None = None) -> dict[str, Path]:
    """Writes example ``name``'s splits to ``out`` (default ``examples/NAME/data``); returns their paths."""
    if name not in EXAMPLES:
        raise SystemExit(f"unknown example {name!r}; examples with data to prepare: {', '.join(EXAMPLES)}")
    if scale <= 0:
        raise SystemExit(f"--scale must be positive, got {scale}")
    target = Path(out) if out else HERE / name / "data"
    return EXAMPLES[name](target, scale, Path(raw) if raw else None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=list(EXAMPLES))
    parser.add_argument("--out", help="directory for the splits (default: examples/NAME/data)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the generated rows (generated examples)")
    parser.add_argument("--raw", help=f"census_mmoe: the raw file (default {CENSUS_RAW})")
    args = parser.parse_args(argv)
    from mtlflow.errors import MtlflowError

    try:
        paths = prepare(args.name, args.out, args.scale, args.raw)
    except MtlflowError as exc:
        hint = f" (--raw PATH; default {CENSUS_RAW})" if args.name == "census_mmoe" else ""
        print(f"prepare.py: {exc}{hint}", file=sys.stderr)
        return 2
    for split, path in paths.items():
        print(f"{split}: {path}")
    if args.out is None:
        print(f"train it with: mtlflow train examples/{args.name}/config.yaml")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))  # run from a checkout without installing
    sys.exit(main())
