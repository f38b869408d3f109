"""A fake model for the serving tests: each text's P(positive) is written in the text itself
(`text(n)` scores n / 1000), so a result shows which text it belongs to; it records its calls,
notices overlapping ones, and can be held at a gate to fill the queue."""

from __future__ import annotations

import threading
import time

import numpy as np


def text(number: int, words: int = 1) -> str:
    """A text that the fake model scores number / 1000 (0 <= number <= 1000)."""
    return f"{number} " + "word " * words


def score(texts: list[str]) -> list[float]:
    return [int(t.split()[0]) / 1000 for t in texts]


class FakeModel:
    """predict / predict_proba(texts) -> number / 1000 per text (a Predictor, for RunModel)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[list[str]] = []
        self.gate = threading.Event()  # clear() holds the model thread inside its next call
        self.gate.set()
        self.entered = threading.Event()  # set by the first call
        self.inside = 0
        self.overlapped = False

    def predict(self, texts: list[str]) -> list[float]:
        self.inside += 1
        self.overlapped |= self.inside > 1
        self.calls.append(list(texts))
        self.entered.set()
        self.gate.wait(10)
        time.sleep(self.delay_s)
        self.inside -= 1
        return score(texts)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.predict(texts))

    def computed(self) -> set[str]:
        return {t for call in self.calls for t in call}
