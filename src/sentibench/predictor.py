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


def labels_from_proba(proba: np.ndarray) -> np.ndarray:
    """0/1 labels with the one 0.5 threshold (predictions.csv, predict, export, serve)."""
    return (np.asarray(proba) >= 0.5).astype(np.int64)
