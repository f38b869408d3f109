"""The fitted methods, on the members' validation predictions and labels only (never test).

stack   logistic regression (scikit-learn) on the members' log-odds
greedy  Caruana et al. (2004), "Ensemble selection from libraries of models": forward
        selection with replacement; start empty and add, each round, the member (repeats
        allowed) whose addition gives the best validation accuracy (ties: the lower log loss,
        then the first member); stop after `rounds` or when no addition improves
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from sentibench.calibration import log_odds
from sentibench.errors import EnsembleError
from sentibench.predictor import labels_from_proba
from sentibench.recipes.ensemble.combine import EPSILON, combine


def fit_stack(proba: np.ndarray, labels: np.ndarray, C: float) -> tuple[list[float], float]:
    """(coefficients per member, intercept) of the stacker on (n, m) validation proba."""
    if len(np.unique(labels)) < 2:
        raise EnsembleError(
            "The members' validation reviews are all of one class, so a stacker cannot be fit."
        )
    stacker = LogisticRegression(C=C).fit(log_odds(proba, EPSILON), labels)
    return [float(c) for c in stacker.coef_.ravel()], float(stacker.intercept_[0])


def _score(proba: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(accuracy, -log loss): larger is better in both."""
    accuracy = float(np.mean(labels_from_proba(proba) == labels))
    loss = log_loss(labels, np.clip(proba, EPSILON, 1 - EPSILON), labels=[0, 1])
    return accuracy, -float(loss)


def greedy_counts(proba: np.ndarray, labels: np.ndarray, rounds: int) -> list[float]:
    """How often each member was picked (its weight in the mean); at least one pick."""
    counts = np.zeros(proba.shape[1])
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        candidates = []
        for member in range(proba.shape[1]):
            trial = counts.copy()
            trial[member] += 1
            candidates.append(_score(combine("greedy", proba, trial), labels))
        pick = max(range(len(candidates)), key=lambda m: candidates[m])  # first among ties
        if best is not None and candidates[pick] <= best:
            break  # no addition improves accuracy or, at equal accuracy, log loss
        counts[pick] += 1
        best = candidates[pick]
    return [float(c) for c in counts]
