"""Temperature scaling (Guo et al. 2017): one T > 0 fitted on the validation split after
training, so that P(positive) = sigmoid(log-odds / T) minimises the validation log loss.

Every family's predictor gives P(positive) only, so T acts on the log-odds of that probability
(for a softmax over two logits this is exactly dividing both logits by T). The probabilities
come from a float32 softmax, which rounds to 0 or 1 past log-odds of about +-16: they are
clipped to float32's resolution first, so a saturated prediction still moves with T.

A model of k > 2 classes gives (n, k) class probabilities (predictor.class_proba): T divides
their logs, clipped the same way, and a softmax renormalises them; as log p = logits -
logsumexp(logits), that is exactly dividing the k logits by T. Binary figures are unchanged.

    fit_temperature(labels, proba) -> T          scipy's bounded 1-d search over log T
    TemperatureScaled(predictor, T)              the calibrated Predictor; save() adds
                                                 model/calibration.json beside the model
    load_calibrated(predictor, model_dir)        runs.load_predictor's one wrapping point:
                                                 predict, serve and export all get T from it
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentibench.errors import SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.metrics import calibration_metrics
from sentibench.predictor import Predictor, binary_columns, class_proba
from sentibench.runs import atomic_write_json

CALIBRATION_FILE = "calibration.json"
EPS = float(np.finfo(np.float32).eps)  # the softmax's resolution near 0 and 1
LOG_T_BOUNDS = (math.log(1e-2), math.log(1e2))  # T from 0.01 to 100: far past any real fit


def log_odds(proba: np.ndarray, eps: float = EPS) -> np.ndarray:
    """log(p / (1 - p)), with p clipped to [eps, 1 - eps] (finite for saturated softmaxes;
    ensembles pass the 1e-6 resolution of predictions.csv)."""
    from scipy.special import logit

    return logit(np.clip(np.asarray(proba, dtype=np.float64), eps, 1.0 - eps))


def scale_proba(proba: np.ndarray, temperature: float) -> np.ndarray:
    """P(positive) with its log-odds divided by `temperature` (T > 1 softens, T < 1 sharpens)."""
    from scipy.special import expit

    return expit(log_odds(proba) / temperature)


def scale_class_proba(proba: np.ndarray, temperature: float) -> np.ndarray:
    """(n, k) class probabilities with their logs divided by `temperature`, renormalised."""
    from scipy.special import softmax

    logs = np.log(np.clip(np.asarray(proba, dtype=np.float64), EPS, 1.0))
    return softmax(logs / temperature, axis=1)


def fit_temperature(labels: np.ndarray, proba: np.ndarray) -> float:
    """The T minimising the mean negative log-likelihood of sigmoid(log-odds / T) (P(positive),
    or (n, 2) class probabilities), or of softmax(log p / T) ((n, k) ones, k > 2)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_expit, log_softmax

    proba = np.asarray(proba, dtype=np.float64)
    if proba.ndim == 2 and proba.shape[1] == 2:
        proba = proba[:, 1]
    y = np.asarray(labels)
    if proba.shape[0] != y.shape[0] or y.ndim != 1 or y.size == 0:
        raise ValueError("labels and probabilities must be non-empty and of equal length")
    nll: Callable[[float], float]
    if proba.ndim == 1:
        z, yf = log_odds(proba), y.astype(np.float64)

        def nll(log_t: float) -> float:
            scaled = z / math.exp(log_t)
            return float(-(yf * log_expit(scaled) + (1.0 - yf) * log_expit(-scaled)).mean())

    else:
        logs, rows = np.log(np.clip(proba, EPS, 1.0)), np.arange(y.size)

        def nll(log_t: float) -> float:
            return float(-log_softmax(logs / math.exp(log_t), axis=1)[rows, y].mean())

    found = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded")
    return float(math.exp(found.x))


class TemperatureScaled:
    """A Predictor whose P(positive) is `inner`'s with its log-odds divided by `temperature`
    (a k-class `inner`: its class probabilities' logs, predict_class_proba)."""

    def __init__(self, inner: Predictor, temperature: float) -> None:
        self.inner = inner
        self.temperature = float(temperature)

    @property
    def label_names(self) -> tuple[str, ...]:
        return tuple(getattr(self.inner, "label_names", BINARY_LABELS))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.scale(np.asarray(self.inner.predict_proba(texts), dtype=np.float64))

    def predict_class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) calibrated class probabilities ([1 - p, p] of a binary `inner`)."""
        return self.scale(class_proba(self.inner, texts))

    def scale(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated P(positive) (n,) or class probabilities (n, k), like `proba`."""
        proba = np.asarray(proba, dtype=np.float64)
        if proba.ndim == 1:
            return scale_proba(proba, self.temperature)
        if proba.shape[1] == 2:
            return binary_columns(scale_proba(proba[:, 1], self.temperature))
        return scale_class_proba(proba, self.temperature)

    def around(self, other: Predictor) -> TemperatureScaled:
        """`other` (an export of `inner`) with the same temperature."""
        return TemperatureScaled(other, self.temperature)

    def save(self, directory: Path) -> None:
        self.inner.save(directory)
        record = {"method": "temperature", "temperature": self.temperature}
        atomic_write_json(Path(directory) / CALIBRATION_FILE, record)


def uncalibrated(predictor: Predictor) -> Predictor:
    """The model behind a calibrated predictor (itself when it is not calibrated)."""
    return predictor.inner if isinstance(predictor, TemperatureScaled) else predictor


def same_calibration(original: Predictor, other: Predictor) -> Predictor:
    """`other` (built from uncalibrated(original), e.g. its ONNX export) calibrated as
    `original` is."""
    return original.around(other) if isinstance(original, TemperatureScaled) else other


def fit_on_validation(
    predictor: Predictor, raw: np.ndarray, labels: np.ndarray
) -> tuple[TemperatureScaled, dict[str, Any]]:
    """Fit T on `raw`, the (n, k) class probabilities `predictor` gives the validation split
    (a binary model's [1 - p, p]; the caller predicts them once and keeps them); return the
    calibrated predictor and the record's `calibration` entry (T, and the validation ECE and
    log loss before and after)."""
    raw = np.asarray(raw, dtype=np.float64)
    calibrated = TemperatureScaled(predictor, fit_temperature(labels, raw))
    before = calibration_metrics(labels, raw)
    after = calibration_metrics(labels, calibrated.scale(raw))
    report = {
        "method": "temperature",
        "temperature": round(calibrated.temperature, 6),
        "validation": {
            "ece_before": before["ece"],
            "ece_after": after["ece"],
            "log_loss_before": before["log_loss"],
            "log_loss_after": after["log_loss"],
        },
    }
    return calibrated, report


def load_calibrated(predictor: Predictor, model_dir: Path) -> Predictor:
    """`predictor` with the calibration stored in `model_dir` (itself where there is none)."""
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.exists():
        return predictor
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        temperature = float(record["temperature"])
        if record.get("method") != "temperature" or not (
            math.isfinite(temperature) and temperature > 0
        ):
            raise ValueError(record)
    except (OSError, ValueError, KeyError, TypeError):
        raise SentibenchError(
            f'{path} is not a calibration record (a JSON object with method "temperature" '
            "and a positive temperature); train the run again or copy it whole."
        ) from None
    return TemperatureScaled(predictor, temperature)
