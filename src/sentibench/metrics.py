"""Classification and calibration metrics, confidence intervals and paired significance tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

from sentibench.labels import BINARY_LABELS

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
    labels: np.ndarray, predictions: np.ndarray, label_names: Sequence[str] = BINARY_LABELS
) -> dict:
    """Accuracy, macro-F1, per-class precision/recall (keyed by label name), the k x k
    confusion matrix (rows: true label ids 0..k-1, columns: predicted) and 95% Wilson CI.
    Two classes: also positive_rate (the share predicted as label 1); more: predicted_rate,
    the share predicted as each class by name."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    if labels.shape != predictions.shape or labels.size == 0:
        raise ValueError("labels and predictions must be non-empty and of equal length")
    names = list(label_names)
    ids = list(range(len(names)))
    if (
        max(labels.max(), predictions.max()) >= len(names)
        or min(labels.min(), predictions.min()) < 0
    ):
        raise ValueError(f"label ids must lie in 0..{len(names) - 1} ({', '.join(names)})")
    correct = int((labels == predictions).sum())
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predictions, labels=ids, zero_division=0
    )
    low, high = wilson_interval(correct, labels.size)
    metrics = {
        "accuracy": correct / labels.size,
        "accuracy_ci95": [low, high],
        "macro_f1": float(np.mean(f1)),
        "precision": {name: float(precision[i]) for i, name in enumerate(names)},
        "recall": {name: float(recall[i]) for i, name in enumerate(names)},
        "confusion_matrix": confusion_matrix(labels, predictions, labels=ids).tolist(),
        "n": int(labels.size),
    }
    if len(names) == 2:
        metrics["positive_rate"] = float(predictions.mean())
    else:
        shares = np.bincount(predictions, minlength=len(names)) / predictions.size
        metrics["predicted_rate"] = {name: float(shares[i]) for i, name in enumerate(names)}
    return metrics


def majority_prediction_share(metrics: dict) -> float:
    """The share of the scored reviews predicted as the most predicted class."""
    if "predicted_rate" in metrics:
        return float(max(metrics["predicted_rate"].values()))
    return max(metrics["positive_rate"], 1 - metrics["positive_rate"])


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

# Probabilities are either P(positive) (n,) of a binary model, or (n, k) class probabilities:
# (n, 2) ones are read as their column 1, so a binary model's figures are the same either way;
# for k > 2 the ECE bins the top class's probability, Brier sums over the k classes (Brier
# 1950: 0 to 2, as scikit-learn's multiclass brier_score_loss) and log loss is the multiclass
# cross-entropy.


def _binary_or_classes(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba


def _confidence_and_correct(labels: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The predicted class's probability and whether that class is right, per review."""
    if proba.ndim == 2:  # k > 2: the top class (argmax; the first among ties)
        if proba.shape[0] != labels.size:
            raise ValueError("labels and probabilities must be non-empty and of equal length")
        return proba.max(axis=1), proba.argmax(axis=1) == labels
    confidence = np.maximum(proba, 1.0 - proba)
    return confidence, (proba >= 0.5).astype(np.int64) == labels  # the labels' 0.5 threshold


def reliability_bins(labels: np.ndarray, proba: np.ndarray, bins: int = ECE_BINS) -> dict:
    """Per equal-width bin (lo, hi] of the predicted class's confidence (max(p, 1 - p) of a
    binary model, the top class's probability of a k-class one): how many predictions fall in
    it, their mean confidence and their accuracy (NaN where empty)."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = _binary_or_classes(proba)
    if labels.size == 0 or (proba.ndim == 1 and labels.shape != proba.shape):
        raise ValueError("labels and probabilities must be non-empty and of equal length")
    confidence, correct = _confidence_and_correct(labels, proba)
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
    """ECE (15 bins), Brier score and log loss of P(positive) against 0/1 labels, or of (n, k)
    class probabilities against label ids (see above)."""
    from sklearn.metrics import brier_score_loss, log_loss

    labels = np.asarray(labels, dtype=np.int64)
    proba = _binary_or_classes(proba)
    if proba.ndim == 1:
        return {
            "ece": expected_calibration_error(labels, proba),
            "brier": float(brier_score_loss(labels, proba, pos_label=1)),
            "log_loss": float(log_loss(labels, proba, labels=[0, 1])),
        }
    truth = np.eye(proba.shape[1])[labels]
    # clipped as scikit-learn's log_loss clips, without its warning on rows that sum to 1
    # only to float32's precision (a float32 softmax)
    eps = float(np.finfo(np.float64).eps)
    right = np.clip(proba[np.arange(labels.size), labels], eps, 1.0)
    return {
        "ece": expected_calibration_error(labels, proba),
        "brier": float(((proba - truth) ** 2).sum(axis=1).mean()),
        "log_loss": float(-np.log(right).mean()),
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
