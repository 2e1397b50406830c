"""Evaluation metrics in NumPy, returning plain Python floats (JSON-serialisable).

Every function accepts lists or NumPy arrays.  A metric that is a mean over an
empty set (no samples, no classes, no sentences) is ``nan``; ``write_metrics``
in :mod:`mtlflow.evaluate.report` writes it as JSON ``null``.  Inputs whose
shapes disagree raise ``ValueError``.
"""

from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from mtlflow.evaluate.spans import Span, spans_from_tags

NAN = float("nan")


def _pair(y_true: ArrayLike, y_pred: ArrayLike, dtype: type | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Convert both inputs to arrays and check that their shapes agree."""
    t = np.asarray(y_true, dtype=dtype)
    p = np.asarray(y_pred, dtype=dtype)
    if t.shape != p.shape:
        raise ValueError(f"y_true has shape {t.shape} but the other input has shape {p.shape}")
    return t, p


def _binary(y: np.ndarray, name: str) -> np.ndarray:
    """Return ``y`` as a bool array, raising ``ValueError`` unless every value is 0 or 1."""
    if y.size and not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must contain only 0 and 1")
    return y.astype(bool)


def _f1(tp: int, fp: int, fn: int) -> float:
    """F1 = 2·TP / (2·TP + FP + FN); 0.0 when the denominator is 0."""
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else 0.0


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Accuracy = (1/n) Σᵢ [y_trueᵢ = y_predᵢ]; ``nan`` for empty input."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p)) if t.size else NAN


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, labels: Sequence | None = None) -> float:
    """Macro F1 = (1/|C|) Σ_c F1_c with F1_c = 2·TP_c / (2·TP_c + FP_c + FN_c).

    ``C`` is ``labels`` if given, else the classes present in
    ``y_true ∪ y_pred``.  A class with no true and no predicted sample
    (TP + FP + FN = 0) is left out of the mean; ``nan`` if no class is left.
    """
    t, p = _pair(y_true, y_pred)
    classes = np.unique(np.concatenate([t.ravel(), p.ravel()])) if labels is None else labels
    scores = []
    for c in classes:
        tp = int(np.sum((t == c) & (p == c)))
        fp = int(np.sum((t != c) & (p == c)))
        fn = int(np.sum((t == c) & (p != c)))
        if tp + fp + fn:
            scores.append(_f1(tp, fp, fn))
    return float(np.mean(scores)) if scores else NAN


def multilabel_f1(y_true: ArrayLike, y_pred: ArrayLike) -> dict[str, float]:
    """Micro and macro F1 of 0/1 indicator matrices of shape ``[n, L]``.

    micro_f1 = 2·ΣTP / (2·ΣTP + ΣFP + ΣFN), summed over all labels;
    macro_f1 = mean over labels ℓ of 2·TPℓ / (2·TPℓ + FPℓ + FNℓ), taken over
    the labels with at least one true or predicted positive.  Both are ``nan``
    when there is no true and no predicted positive at all (including empty
    input).
    """
    t, p = _pair(y_true, y_pred)
    if t.ndim != 2:
        raise ValueError(f"multilabel inputs must be 2-D [n, labels], got shape {t.shape}")
    t, p = _binary(t, "y_true"), _binary(p, "y_pred")
    tp = np.sum(t & p, axis=0)
    fp = np.sum(~t & p, axis=0)
    fn = np.sum(t & ~p, axis=0)
    active = (tp + fp + fn) > 0
    if not active.any():
        return {"micro_f1": NAN, "macro_f1": NAN}
    micro = _f1(int(tp.sum()), int(fp.sum()), int(fn.sum()))
    macro = float(np.mean([_f1(a, b, c) for a, b, c in zip(tp[active], fp[active], fn[active])]))
    return {"micro_f1": float(micro), "macro_f1": macro}


def exact_match_ratio(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Exact match = (1/n) Σᵢ [rowᵢ of y_true = rowᵢ of y_pred] for ``[n, L]`` label matrices; ``nan`` if n = 0."""
    t, p = _pair(y_true, y_pred)
    if t.ndim != 2:
        raise ValueError(f"multilabel inputs must be 2-D [n, labels], got shape {t.shape}")
    return float(np.mean(np.all(t == p, axis=1))) if len(t) else NAN


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``; tied values all get the mean of the ranks they span."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    last = np.cumsum(counts)
    first = last - counts + 1
    return ((first + last) / 2.0)[inverse.ravel()]


def roc_auc(y_true: ArrayLike, scores: ArrayLike) -> float:
    """Area under the ROC curve via the Mann–Whitney U statistic (Hanley & McNeil, 1982).

    AUC = (R₊ − n₊(n₊ + 1)/2) / (n₊ · n₋), where R₊ is the sum of the ranks of
    the positive samples' scores among all scores, ties getting their average
    rank (so a tied positive/negative pair counts 1/2).  ``y_true`` is 0/1.
    ``nan`` when only one class is present (or the input is empty).

    Hanley, J. A. & McNeil, B. J. (1982). The meaning and use of the area under
    a receiver operating characteristic (ROC) curve. Radiology 143(1), 29–36.
    """
    t, s = _pair(y_true, scores, dtype=float)
    if t.ndim != 1:
        raise ValueError(f"roc_auc expects 1-D inputs, got shape {t.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    positive = _binary(t, "y_true")
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return NAN
    rank_sum = float(_average_ranks(s)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def log_loss(y_true: ArrayLike, p: ArrayLike, eps: float = 1e-7) -> float:
    """Binary cross-entropy = −(1/n) Σᵢ [yᵢ·ln pᵢ + (1 − yᵢ)·ln(1 − pᵢ)].

    ``p`` is the predicted probability of class 1, clipped to
    ``[eps, 1 − eps]``; ``y_true`` is 0/1.  ``nan`` for empty input.
    """
    t, q = _pair(y_true, p, dtype=float)
    if not t.size:
        return NAN
    y = _binary(t, "y_true")
    q = np.clip(q, eps, 1.0 - eps)
    return float(-np.mean(np.where(y, np.log(q), np.log1p(-q))))


def rmse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Root mean squared error = √((1/n) Σᵢ (yᵢ − ŷᵢ)²); ``nan`` for empty input."""
    t, p = _pair(y_true, y_pred, dtype=float)
    return float(np.sqrt(np.mean((t - p) ** 2))) if t.size else NAN


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error = (1/n) Σᵢ |yᵢ − ŷᵢ|; ``nan`` for empty input."""
    t, p = _pair(y_true, y_pred, dtype=float)
    return float(np.mean(np.abs(t - p))) if t.size else NAN


def _prf(correct: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    """conlleval precision, recall, F1: P = correct/n_pred, R = correct/n_true, F1 = 2PR/(P + R), 0.0 when undefined."""
    precision = correct / n_pred if n_pred else 0.0
    recall = correct / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def span_prf(
    true_tags: Sequence[Sequence[str]],
    pred_tags: Sequence[Sequence[str]],
    scheme: str = "bio",
) -> dict:
    """Chunk-level precision, recall and F1, micro-averaged over all chunks as in ``conlleval``.

    Chunks come from :func:`mtlflow.evaluate.spans.spans_from_tags`.  A
    predicted chunk is correct only if its type, start and end all match a
    true chunk (Tjong Kim Sang & Buchholz, 2000)::

        precision = correct / predicted chunks     (0.0 if none predicted)
        recall    = correct / true chunks          (0.0 if none true)
        f1        = 2 · precision · recall / (precision + recall)   (0.0 if both 0)

    If there are no true and no predicted chunks anywhere, precision, recall
    and f1 are undefined and returned as ``nan`` (conlleval prints 0, seqeval
    warns "ill-defined" and gives 0): nothing was there to find, and a score of
    1.0 would inflate e.g. a slice of sentences without spans.  ``exact_match`` is the fraction of sentences whose
    predicted chunk set equals the true chunk set.  ``per_type`` maps each
    chunk type seen in either side to its own precision, recall, f1 and
    ``support`` (number of true chunks).  With no sentences every value is
    ``nan`` and ``per_type`` is empty.
    """
    if len(true_tags) != len(pred_tags):
        raise ValueError(f"{len(true_tags)} true tag sequences but {len(pred_tags)} predicted")
    if not len(true_tags):
        return {"precision": NAN, "recall": NAN, "f1": NAN, "exact_match": NAN, "per_type": {}}

    true_count: Counter[str] = Counter()
    pred_count: Counter[str] = Counter()
    correct_count: Counter[str] = Counter()
    exact = 0
    for index, (true_seq, pred_seq) in enumerate(zip(true_tags, pred_tags)):
        if len(true_seq) != len(pred_seq):
            raise ValueError(f"sentence {index}: {len(true_seq)} true tags but {len(pred_seq)} predicted")
        true_spans: set[Span] = set(spans_from_tags(true_seq, scheme))
        pred_spans: set[Span] = set(spans_from_tags(pred_seq, scheme))
        true_count.update(kind for kind, _, _ in true_spans)
        pred_count.update(kind for kind, _, _ in pred_spans)
        correct_count.update(kind for kind, _, _ in true_spans & pred_spans)
        exact += true_spans == pred_spans

    n_true, n_pred = sum(true_count.values()), sum(pred_count.values())
    if n_true == 0 and n_pred == 0:
        precision = recall = f1 = NAN
    else:
        precision, recall, f1 = _prf(sum(correct_count.values()), n_pred, n_true)

    per_type = {}
    for kind in sorted(true_count.keys() | pred_count.keys()):
        p, r, f = _prf(correct_count[kind], pred_count[kind], true_count[kind])
        per_type[kind] = {"precision": p, "recall": r, "f1": f, "support": true_count[kind]}
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "exact_match": exact / len(true_tags),
        "per_type": per_type,
    }
