"""Classification and calibration metrics, confidence intervals and paired significance tests."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# scipy and sklearn are imported where used: the training loop's guard needs only the Wilson
# interval, and every worker process would pay ~2 s to import them at start


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (better than normal near 0 or 1)."""
    if total <= 0:
        raise ValueError("wilson_interval needs at least one trial")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    # exactly 0 (1) with no successes (failures): centre - half cancels only up to rounding
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == total else min(1.0, centre + half)
    return low, high


def classification_metrics(
    labels: np.ndarray,
    predictions: np.ndarray,
    label_names: tuple[str, ...] = ("negative", "positive"),
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall (keyed by label name), the k x k
    confusion matrix and the 95% Wilson CI; binary adds positive_rate."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError("labels and predictions must be non-empty and of equal length")
    correct = int((labels == predictions).sum())
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    ids = list(range(len(label_names)))
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=ids, zero_division=0
    )
    low, high = wilson_interval(correct, labels.size)
    found = {
        "accuracy": correct / labels.size,
        "accuracy_ci95": [low, high],
        "macro_f1": float(np.mean(f1)),
        "precision": {name: float(precision[i]) for i, name in enumerate(label_names)},
        "recall": {name: float(recall[i]) for i, name in enumerate(label_names)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=ids).tolist(),
        "n": int(labels.size),
    }
    if len(label_names) == 2:
        found["positive_rate"] = float(predictions.mean())
    return found


def macro_f1(labels: np.ndarray, predictions: np.ndarray, n_classes: int = 2) -> float:
    """Unweighted mean of the per-class F1 (a class with no true and no predicted item: 0, as
    sklearn's zero_division=0), in numpy: the training loop calls it every epoch."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    scores = []
    for label in range(n_classes):
        true_positive = int(((predictions == label) & (labels == label)).sum())
        wrong = int(((predictions == label) != (labels == label)).sum())  # fp + fn
        f1 = 0.0 if true_positive == 0 else 2 * true_positive / (2 * true_positive + wrong)
        scores.append(f1)
    return float(np.mean(scores))


ECE_BINS = 15  # Guo et al. 2017's equal-width bins


def reliability_bins(labels: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Per equal-width bin (lo, hi] of the predicted class's confidence max(p, 1 - p): how many
    predictions fall in it, their mean confidence and their accuracy (NaN where empty)."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if labels.shape != proba.shape or labels.size == 0:
        raise ValueError("labels and probabilities must be non-empty and of equal length")
    confidence = np.maximum(proba, 1.0 - proba)
    correct = (proba >= 0.5).astype(np.int64) == labels  # the one 0.5 threshold of the labels
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.searchsorted(edges[1:-1], confidence, side="left")  # right-closed bins
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, minlength=bins) / count
        accuracy = np.bincount(index, correct.astype(np.float64), minlength=bins) / count
    return {"edges": edges, "count": count, "confidence": mean_confidence, "accuracy": accuracy}


def expected_calibration_error(
    labels: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over bins of (share of predictions in it) x |accuracy - mean confidence|."""
    found = reliability_bins(labels, proba, bins)
    used = found["count"] > 0
    gaps = np.abs(found["accuracy"][used] - found["confidence"][used])
    return float((found["count"][used] / found["count"].sum() * gaps).sum())


def calibration_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """ECE (15 bins), Brier score and log loss of P(positive) against 0/1 labels."""
    from sklearn.metrics import brier_score_loss, log_loss

    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    return {
        "ece": expected_calibration_error(labels, proba),
        "brier": float(brier_score_loss(labels, proba, pos_label=1)),
        "log_loss": float(log_loss(labels, proba, labels=[0, 1])),
    }


def mcnemar_exact(labels: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict:
    """Exact McNemar test on the discordant pairs of two classifiers over the same items."""
    right_a = np.asarray(pred_a) == np.asarray(labels)
    right_b = np.asarray(pred_b) == np.asarray(labels)
    only_a = int((right_a & ~right_b).sum())
    only_b = int((~right_a & right_b).sum())
    discordant = only_a + only_b
    from scipy.stats import binomtest

    p_value = 1.0 if discordant == 0 else binomtest(only_a, discordant, 0.5).pvalue
    return {"only_a_right": only_a, "only_b_right": only_b, "p_value": float(p_value)}
