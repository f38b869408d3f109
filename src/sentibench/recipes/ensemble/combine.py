"""How an ensemble turns its members' P(positive) into one: the same arithmetic when it is
built (on the members' recorded predictions) and when it predicts (on their live ones)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from sentibench.calibration import log_odds
from sentibench.predictor import PROBA_DECIMALS, labels_from_proba

METHODS = ("mean", "vote", "stack", "greedy")
FITTED = ("stack", "greedy")  # fit on the members' validation predictions
# predictions.csv stores 6 decimals, so a recorded 0 or 1 means "within 1e-6 of it"
EPSILON = 10.0**-PROBA_DECIMALS


def combine(
    method: str, proba: np.ndarray, weights: Sequence[float] | np.ndarray, intercept: float = 0.0
) -> np.ndarray:
    """P(positive) of the ensemble from `proba` (n reviews, m members), shape (n,).

    mean / greedy: the weighted mean (greedy's weights are its pick counts); vote: the
    weighted share of members voting positive, and at a tie the mean probability (so the
    0.5 threshold breaks it); stack: the logistic regression on the members' log-odds.
    """
    proba = np.asarray(proba, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if proba.ndim != 2 or proba.shape[1] != w.size:
        raise ValueError(f"{w.size} weights for probabilities of shape {proba.shape}")
    if method in ("mean", "greedy"):
        return proba @ w / w.sum()
    if method == "vote":
        share = labels_from_proba(proba) @ w / w.sum()
        return np.where(np.isclose(share, 0.5), proba @ w / w.sum(), share)
    if method == "stack":
        return expit(log_odds(proba, EPSILON) @ w + intercept)
    raise ValueError(f"unknown ensemble method {method!r}")
