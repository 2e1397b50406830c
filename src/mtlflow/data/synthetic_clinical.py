"""Synthetic inpatient records with correlated chronic conditions (multi-label + regression).

A liability-threshold model (Falconer, 1965), the standard way to make binary traits
correlated through shared continuous risk. For each admitted patient::

    demographics   age ∈ [18, 95], sex ∈ {F, M}, region (carries no signal)
    lifestyle      smoking ∈ {never, former, current}             (men smoke more)
    latent risk    f = (metabolic, cardiovascular, pulmonary) ~ N(0, I₃)
    liabilities    ℓ_c = B_c·f + a_c·age_z + m_c·male + s_c·smoking + ε_c,   ε_c ~ N(0, σ_c²)
                   (anemia also + 0.9·ckd: kidney disease causes anemia)
    conditions     c present ⇔ ℓ_c > τ_c

so given the demographics the liabilities are jointly normal with the *shared covariance*
``B·Bᵀ + diag(σ²)``: conditions that load on the same factor co-occur (diabetes,
hypertension and CKD through the metabolic factor; hypertension and heart failure through
the cardiovascular one; COPD with smoking and the pulmonary one). The thresholds ``τ_c``
are calibrated once on a fixed reference population so that the prevalences are
:data:`PREVALENCE`. Then the model's inputs are measured, each from the latent factors
and the conditions plus noise, so no single one gives a condition away:

    bmi, hba1c, glucose            ← metabolic factor, diabetes
    systolic_bp, diastolic_bp      ← cardiovascular factor, hypertension, age
    creatinine                     ← CKD, sex          (log-normal)
    bnp                            ← heart failure, CKD, age  (log-normal, heavy tail)
    hemoglobin                     ← anemia, CKD, sex
    spo2, fev1_pct                 ← COPD, heart failure, smoking
    heart_rate, ldl                ← weak signals
    admission_type                 ← emergency more likely with more / acute conditions

and the regression target, the length of stay in days, is log-normal::

    log LOS = 0.9 + 0.12·#conditions + 0.35·hf + 0.25·copd + 0.2·ckd + 0.25·hf·ckd
              + 0.3·emergency + 0.008·(age − 60) + N(0, 0.35²)

The multi-label target ``conditions`` is the list of present conditions (often empty),
so the splits are written as JSON Lines, where ``[]`` means "labelled: none applies"
(in CSV an empty cell would read as a missing label).

Example:
  >>> rows = clinical_synthetic(1000, seed=1)
  >>> sorted(CONDITIONS) == sorted({c for cs in rows["conditions"] for c in cs})
  True
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

import numpy as np

CONDITIONS: tuple[str, ...] = ("diabetes", "hypertension", "ckd", "heart_failure", "copd", "anemia")
PREVALENCE: dict[str, float] = {"diabetes": 0.20, "hypertension": 0.40, "ckd": 0.15,
                                "heart_failure": 0.12, "copd": 0.12, "anemia": 0.15}
FACTORS: tuple[str, ...] = ("metabolic", "cardiovascular", "pulmonary")
# Per condition: loadings B_c on the factors, age, male and smoking effects, residual sd σ_c.
LOADINGS: dict[str, tuple[tuple[float, float, float], float, float, float, float]] = {
    "diabetes": ((0.8, 0.2, 0.0), 0.3, 0.1, 0.0, 0.6),
    "hypertension": ((0.5, 0.6, 0.0), 0.5, 0.1, 0.1, 0.6),
    "ckd": ((0.5, 0.4, 0.0), 0.5, 0.0, 0.0, 0.6),
    "heart_failure": ((0.2, 0.7, 0.2), 0.5, 0.15, 0.1, 0.6),
    "copd": ((0.0, 0.1, 0.8), 0.3, 0.0, 0.6, 0.6),
    "anemia": ((0.1, 0.1, 0.0), 0.2, -0.3, 0.0, 0.8),
}
ANEMIA_FROM_CKD = 0.9
NUMERIC: tuple[str, ...] = ("age", "bmi", "hba1c", "glucose", "systolic_bp", "diastolic_bp", "creatinine",
                            "bnp", "hemoglobin", "spo2", "fev1_pct", "heart_rate", "ldl")
CATEGORICAL: tuple[str, ...] = ("sex", "smoking", "admission_type", "region")
SMOKING = ("never", "former", "current")
ADMISSION = ("elective", "urgent", "emergency")
REGIONS = ("north", "south", "east", "west")
SPLITS = {"train": (20_000, 1), "validation": (2_500, 2), "test": (5_000, 3)}  # rows, seed
_REFERENCE_SEED, _REFERENCE_SIZE = 12345, 200_000


def clinical_synthetic(n: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """``n`` patients: the :data:`NUMERIC` and :data:`CATEGORICAL` inputs, ``conditions``
    (an object array of lists of names) and ``length_of_stay`` (days).

    Args:
      n: patients to draw (> 0).
      seed: draws the patients; the world (loadings, thresholds) is fixed, so splits drawn
        with different seeds come from the same population.
    """
    if not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"Argument `n` must be a positive integer. Received: n={n!r}")
    people = _draw(np.random.default_rng(seed), n)
    present = _conditions(people["liability"], _thresholds())
    rng = np.random.default_rng([seed, 1])  # measurement noise, independent of the draws above
    return _observe(rng, people, present)


def _draw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Demographics, smoking, latent factors and condition liabilities (before thresholds)."""
    age = 18.0 + 77.0 * rng.beta(2.2, 1.6, n)
    male = rng.random(n) < 0.5
    smoke_p = np.where(male[:, None], [0.45, 0.30, 0.25], [0.60, 0.25, 0.15])
    smoking = (rng.random(n)[:, None] > np.cumsum(smoke_p, axis=1)).sum(axis=1)  # 0 never, 1 former, 2 current
    factors = rng.normal(size=(n, len(FACTORS)))
    age_z = (age - 60.0) / 15.0
    smoke_score = np.array([0.0, 0.5, 1.0])[smoking]
    liability = np.empty((n, len(CONDITIONS)))
    for j, name in enumerate(CONDITIONS):
        loadings, a, m, s, sd = LOADINGS[name]
        liability[:, j] = factors @ np.array(loadings) + a * age_z + m * male + s * smoke_score + rng.normal(0, sd, n)
    return {"age": age, "male": male, "smoking": smoking, "factors": factors, "liability": liability,
            "region": rng.integers(0, len(REGIONS), n)}


def _conditions(liability: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """``[n, C]`` booleans: ℓ_c > τ_c, anemia's liability first raised by CKD."""
    present = liability > tau
    ckd, anemia = CONDITIONS.index("ckd"), CONDITIONS.index("anemia")
    present[:, anemia] = liability[:, anemia] + ANEMIA_FROM_CKD * present[:, ckd] > tau[anemia]
    return present


@functools.cache
def _thresholds() -> np.ndarray:
    """τ_c: the (1 − prevalence) quantile of each liability in a fixed reference population
    (anemia's after adding its CKD effect, so that CKD's threshold comes first)."""
    ell = _draw(np.random.default_rng(_REFERENCE_SEED), _REFERENCE_SIZE)["liability"]
    tau = np.array([np.quantile(ell[:, j], 1.0 - PREVALENCE[c]) for j, c in enumerate(CONDITIONS)])
    ckd, anemia = CONDITIONS.index("ckd"), CONDITIONS.index("anemia")
    shifted = ell[:, anemia] + ANEMIA_FROM_CKD * (ell[:, ckd] > tau[ckd])
    tau[anemia] = np.quantile(shifted, 1.0 - PREVALENCE["anemia"])
    tau.setflags(write=False)
    return tau


def _observe(rng: np.random.Generator, people: dict, present: np.ndarray) -> dict[str, np.ndarray]:
    """Measured inputs, the condition lists and the length of stay."""
    n = len(people["age"])
    c = {name: present[:, j].astype(float) for j, name in enumerate(CONDITIONS)}
    f_met, f_cv, f_pul = people["factors"].T
    age, male, smoking = people["age"], people["male"].astype(float), people["smoking"]
    female = 1.0 - male
    current = (smoking == 2).astype(float)

    def noise(sd):
        return rng.normal(0.0, sd, n)

    columns: dict[str, np.ndarray] = {
        "age": np.round(age, 0),
        "bmi": np.clip(27.0 + 3.5 * f_met + 2.0 * c["diabetes"] + noise(3.0), 15, 60),
        "hba1c": np.clip(5.4 + 0.25 * f_met + 1.8 * c["diabetes"] + noise(0.5), 4, 14),
        "glucose": np.clip(95 + 8 * f_met + 55 * c["diabetes"] + noise(20), 50, 400),
        "systolic_bp": 122 + 0.3 * (age - 60) + 5 * f_cv + 16 * c["hypertension"] + noise(12),
        "diastolic_bp": 76 + 3 * f_cv + 8 * c["hypertension"] + noise(8),
        "creatinine": np.exp(np.log(0.85) + 0.15 * male + 0.55 * c["ckd"] + 0.05 * f_met + noise(0.18)),
        "bnp": np.exp(np.log(60) + 0.012 * (age - 60) + 1.5 * c["heart_failure"] + 0.3 * c["ckd"] + noise(0.6)),
        "hemoglobin": 14.6 - 1.3 * female - 2.2 * c["anemia"] - 0.6 * c["ckd"] + noise(0.9),
        "spo2": np.clip(97.0 - 2.5 * c["copd"] - 1.0 * c["heart_failure"] + noise(1.2), 75, 100),
        "fev1_pct": np.clip(90 - 26 * c["copd"] - 6 * current - 3 * f_pul + noise(11), 15, 130),
        "heart_rate": 76 + 6 * c["heart_failure"] + 4 * c["copd"] + noise(10),
        "ldl": 120 + 10 * f_cv + noise(30),
    }
    columns = {k: np.round(v, 2).astype(np.float32) for k, v in columns.items()}
    burden = present.sum(axis=1)
    acute = 1.2 * c["heart_failure"] + 0.8 * c["copd"] + 0.3 * burden - 0.8
    p_admit = _softmax(np.stack([np.zeros(n), 0.4 + 0.4 * acute, 0.2 + acute], axis=1))
    admission = (rng.random(n)[:, None] > np.cumsum(p_admit, axis=1)).sum(axis=1).clip(0, 2)
    emergency = (admission == 2).astype(float)
    log_los = (0.9 + 0.12 * burden + 0.35 * c["heart_failure"] + 0.25 * c["copd"] + 0.2 * c["ckd"]
               + 0.25 * c["heart_failure"] * c["ckd"] + 0.3 * emergency + 0.008 * (age - 60) + noise(0.35))
    columns.update({
        "sex": np.where(people["male"], "M", "F"),
        "smoking": np.array(SMOKING)[smoking],
        "admission_type": np.array(ADMISSION)[admission],
        "region": np.array(REGIONS)[people["region"]],
    })
    columns["conditions"] = np.empty(n, dtype=object)
    for i in range(n):
        columns["conditions"][i] = [name for j, name in enumerate(CONDITIONS) if present[i, j]]
    columns["length_of_stay"] = np.round(np.exp(log_los), 1).astype(np.float32)
    return columns


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def write_jsonl(columns: dict[str, np.ndarray], path: str | Path) -> Path:
    """Writes one JSON object per patient to ``path`` (via a temporary file, then renamed)."""
    path = Path(path)
    names = list(columns)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for i in range(len(columns[names[0]])):
            row = {}
            for name in names:
                value = columns[name][i]
                row[name] = float(value) if isinstance(value, np.floating) else (
                    value if isinstance(value, list) else str(value))
            f.write(json.dumps(row) + "\n")
    os.replace(tmp, path)
    return path


def write_splits(out_dir: str | Path, *, scale: float = 1.0, seed: int = 0) -> dict[str, Path]:
    """Writes ``train.jsonl``, ``validation.jsonl``, ``test.jsonl`` (20,000 / 2,500 / 5,000
    patients × ``scale``) under ``out_dir``; returns their paths by split.

    ``seed`` shifts every split's seed, for another draw of the same population.
    """
    if scale <= 0:
        raise ValueError(f"Argument `scale` must be positive. Received: scale={scale}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for split, (rows, split_seed) in SPLITS.items():
        columns = clinical_synthetic(max(1, int(round(rows * scale))), seed=1000 * seed + split_seed)
        paths[split] = write_jsonl(columns, out / f"{split}.jsonl")
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m mtlflow.data.synthetic_clinical --out DIR [--scale S] [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="directory for train/validation/test.jsonl")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the split sizes (20,000 / 2,500 / 5,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for path in write_splits(args.out, scale=args.scale, seed=args.seed).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
