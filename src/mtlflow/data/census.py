"""UCI Census-Income (KDD) as the MMoE paper's two-task problem, written as CSV splits.

Ma et al. (KDD 2018, §6.3, group 1): task 1 predicts whether income exceeds 50K, task 2
whether the marital status is "Never married"; ``education`` and ``marital_stat`` are
removed from the inputs. The public ``census-income.test.gz`` (99,762 rows) is what this
module reads; where the training file is unavailable it is split by a seeded
permutation (default 50/25/25) — results on it are not comparable digit for digit with
the paper, which trained on the 199,523-row training file.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from mtlflow.errors import DataError

COLUMNS = (
    "age class_worker det_ind_code det_occ_code education wage_per_hour hs_college marital_stat "
    "major_ind_code major_occ_code race hisp_origin sex union_member unemp_reason full_or_part_emp "
    "capital_gains capital_losses stock_dividends tax_filer_stat region_prev_res state_prev_res "
    "det_hh_fam_stat det_hh_summ instance_weight mig_chg_msa mig_chg_reg mig_move_reg mig_same "
    "mig_prev_sunbelt num_emp fam_under_18 country_father country_mother country_self citizenship "
    "own_or_self vet_question vet_benefits weeks_worked year income_50k"
).split()
NUMERIC = ["age", "wage_per_hour", "capital_gains", "capital_losses", "stock_dividends", "num_emp", "weeks_worked"]
DROPPED = {"education", "marital_stat", "income_50k", "instance_weight"}  # labels, and the survey's sampling weight
CATEGORICAL = [c for c in COLUMNS if c not in DROPPED and c not in NUMERIC]
LABELS = ("income", "never_married")


def read_census(path: str | Path) -> dict[str, np.ndarray]:
    """Columns of the raw file (42 per row, comma + space separated) plus the two labels."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; pass the path of census-income.test.gz (or .data.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    rows = []
    with opener(path, "rt", encoding="latin-1") as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            values = [v.strip() for v in line.rstrip().rstrip(".").split(",")]
            if len(values) != len(COLUMNS):
                raise DataError(f"{path}:{line_number}: {len(values)} fields, expected {len(COLUMNS)} (census-income format)")
            rows.append(values)
    table = {c: np.array([r[i] for r in rows]) for i, c in enumerate(COLUMNS)}
    table["income"] = (np.char.find(table["income_50k"].astype(str), "50000+") >= 0).astype(np.int32)
    table["never_married"] = (table["marital_stat"] == "Never married").astype(np.int32)
    return table


def prepare_census(path: str | Path, out_dir: str | Path, *, seed: int = 0,
                   fractions: tuple[float, float, float] = (0.5, 0.25, 0.25)) -> dict[str, Path]:
    """Writes ``train.csv``, ``validation.csv``, ``test.csv`` under ``out_dir``; returns their paths.

    Columns: the inputs (``NUMERIC`` + ``CATEGORICAL``) and the labels ``income`` and
    ``never_married``. Existing files written with the same seed and fractions are reused.
    """
    out = Path(out_dir)
    stamp = out / "SPLIT"
    signature = f"{Path(path).name} seed={seed} fractions={fractions}"
    paths = {name: out / f"{name}.csv" for name in ("train", "validation", "test")}
    if stamp.is_file() and stamp.read_text() == signature and all(p.is_file() for p in paths.values()):
        return paths
    table = read_census(path)
    n = len(table["age"])
    order = np.random.default_rng(seed).permutation(n)
    cuts = np.cumsum([int(round(f * n)) for f in fractions[:2]])
    parts = dict(zip(paths, np.split(order, cuts)))
    out.mkdir(parents=True, exist_ok=True)
    columns = [*NUMERIC, *CATEGORICAL, *LABELS]
    for name, index in parts.items():
        tmp = paths[name].with_suffix(".tmp")
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for i in index:
                writer.writerow([table[c][i] for c in columns])
        tmp.replace(paths[name])
    stamp.write_text(signature)
    return paths
