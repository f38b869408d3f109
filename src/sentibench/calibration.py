"""Temperature scaling (Guo et al. 2017): one T > 0 fitted on the validation split after
training, so that P(positive) = sigmoid(log-odds / T) minimises the validation log loss.

Every family's predictor gives P(positive) only, so T acts on the log-odds of that probability
(for a softmax over two logits this is exactly dividing both logits by T). The probabilities
come from a float32 softmax, which rounds to 0 or 1 past log-odds of about +-16: they are
clipped to float32's resolution first, so a saturated prediction still moves with T.

    fit_temperature(labels, proba) -> T          scipy's bounded 1-d search over log T
    TemperatureScaled(predictor, T)              the calibrated Predictor; save() adds
                                                 model/calibration.json beside the model
    load_calibrated(predictor, model_dir)        runs.load_predictor's one wrapping point:
                                                 predict, serve and export all get T from it
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentibench.errors import SentibenchError
from sentibench.metrics import calibration_metrics
from sentibench.predictor import Predictor
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


def fit_temperature(labels: np.ndarray, proba: np.ndarray) -> float:
    """The T minimising the mean negative log-likelihood of sigmoid(log-odds / T)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_expit

    z = log_odds(proba)
    y = np.asarray(labels, dtype=np.float64)
    if z.shape != y.shape or y.size == 0:
        raise ValueError("labels and probabilities must be non-empty and of equal length")

    def nll(log_t: float) -> float:
        scaled = z / math.exp(log_t)
        return float(-(y * log_expit(scaled) + (1.0 - y) * log_expit(-scaled)).mean())

    found = minimize_scalar(nll, bounds=LOG_T_BOUNDS, method="bounded")
    return float(math.exp(found.x))


class TemperatureScaled:
    """A Predictor whose P(positive) is `inner`'s with its log-odds divided by `temperature`."""

    def __init__(self, inner: Predictor, temperature: float) -> None:
        self.inner = inner
        self.temperature = float(temperature)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.scale(np.asarray(self.inner.predict_proba(texts), dtype=np.float64))

    def scale(self, proba: np.ndarray) -> np.ndarray:
        return scale_proba(proba, self.temperature)

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
    predictor: Predictor, texts: Sequence[str], labels: np.ndarray
) -> tuple[TemperatureScaled, dict[str, Any]]:
    """Fit T on the validation split; return the calibrated predictor and the record's
    `calibration` entry (T, and the validation ECE and log loss before and after)."""
    raw = np.asarray(predictor.predict_proba(list(texts)), dtype=np.float64)
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
