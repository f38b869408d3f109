"""What every trained model gives back: probabilities of the positive class for raw texts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) for each text, shape (n,), float."""
        ...

    def save(self, directory: Path) -> None:
        """Write the model in a safe format (safetensors / npz / json; never pickle)."""
        ...


def predict_labels(predictor: Predictor, texts: Sequence[str]) -> np.ndarray:
    """0/1 labels with the 0.5 threshold used everywhere (metrics, predictions.csv, predict)."""
    return (predictor.predict_proba(texts) >= 0.5).astype(np.int64)
