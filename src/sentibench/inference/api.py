"""The public predictor: a run directory -> predict / predict_proba / explain, for every family.

`load_run(path)` rebuilds the run's model through its registry recipe (the same weights and the
same text pipeline that scored predictions.csv) and wraps it in `RunModel`, which adds:

- length-sorted chunks: texts go to the model longest first in chunks of `batch_size`, so a
  model that pads per batch pads to a near-equal length (dynamic padding), and the results come
  back in the caller's order;
- labels with the 0.5 threshold used everywhere (metrics, predictions.csv);
- occlusion explanations: drop each word (or a small window) and measure how P(positive) moves.

A run of k > 2 classes (its record's data block names them in "label_names"; a record without
them is binary) answers `predict_class_proba` (n, k) and `predict` gives label names (the
argmax); its explanations measure the probability of the predicted label. Binary runs answer
exactly as before.

`backend="onnx"`, `"int8"` or `"bf16"` swaps in a faster variant of the same run (see
sentibench.inference.export).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentibench.errors import ConfigError, DataError, SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.predictor import Predictor, class_proba, labels_from_class_proba, labels_from_proba
from sentibench.runs import RunRecord
from sentibench.runtime import set_threads

LABELS = BINARY_LABELS  # index = the label id in predictions.csv
BACKENDS = ("original", "onnx", "int8", "bf16")
WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class WordContribution:
    word: str
    start: int  # character offsets of the word in the explained text
    end: int
    # P(positive) with the text minus P(positive) without this word (k classes: P(label))
    contribution: float


@dataclass(frozen=True)
class Explanation:
    text: str
    prob_positive: float | None  # binary runs; None with k > 2 classes
    label: str
    window: int  # words dropped together
    words: list[WordContribution]
    probabilities: dict[str, float] | None = None  # k > 2 classes: P(each label) of the text

    def to_dict(self) -> dict[str, Any]:
        """Binary: text, prob_positive, label, window, words; k classes: probabilities in
        place of prob_positive."""
        data = asdict(self)
        for key in ("prob_positive", "probabilities"):
            if data[key] is None:
                del data[key]
        return data

    def top(self, k: int = 5) -> list[WordContribution]:
        """The k words that moved P(positive) most, either way."""
        return sorted(self.words, key=lambda w: -abs(w.contribution))[:k]


class RunModel:
    """A complete run, ready to classify raw review texts."""

    def __init__(self, predictor: Predictor, record: RunRecord, backend: str = "original") -> None:
        self.predictor = predictor
        self.record = record
        self.backend = backend

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def test_accuracy(self) -> float | None:
        return (self.record.metrics or {}).get("accuracy")

    @property
    def label_names(self) -> tuple[str, ...]:
        """The run's classes in label-id order: its record's, else its model's, else binary."""
        recorded = (self.record.config.get("data") or {}).get("label_names")
        if recorded:
            return tuple(recorded)
        return tuple(getattr(self.predictor, "label_names", None) or LABELS)

    def predict_proba(
        self,
        texts: Sequence[str],
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """P(positive) per text, in the order given; `progress(n)` after each chunk of n.
        Binary runs only: a run of k > 2 classes answers predict_class_proba."""
        if len(self.label_names) != 2:
            raise SentibenchError(
                f"Run {self.name} has {len(self.label_names)} classes "
                f"({', '.join(self.label_names)}); use predict_class_proba."
            )
        return self._chunked(texts, batch_size, progress, self.predictor.predict_proba, ())

    def predict_class_proba(
        self,
        texts: Sequence[str],
        batch_size: int = 256,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """(n, k) probabilities in label_names order (binary: [1 - P(positive), P(positive)]),
        in the order given; `progress(n)` after each chunk of n."""
        width = (len(self.label_names),)
        return self._chunked(
            texts, batch_size, progress, lambda chunk: class_proba(self.predictor, chunk), width
        )

    def _chunked(
        self,
        texts: Sequence[str],
        batch_size: int,
        progress: Callable[[int], None] | None,
        score: Callable[[list[str]], np.ndarray],
        width: tuple[int, ...],
    ) -> np.ndarray:
        texts = _as_texts(texts)
        proba = np.empty((len(texts), *width), dtype=np.float64)
        # Longest first: the slowest chunk shows up at once and chunks hold similar lengths.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            chunk = order[start : start + batch_size]
            proba[chunk] = score([texts[i] for i in chunk])
            if progress is not None:
                progress(len(chunk))
        return proba

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """Binary: label ids (0 negative, 1 positive) with the 0.5 threshold, as in
        predictions.csv; k > 2 classes: the label names of the most probable class."""
        names = self.label_names
        if len(names) == 2:
            return labels_from_proba(self.predict_proba(texts, batch_size))
        ids = labels_from_class_proba(self.predict_class_proba(texts, batch_size))
        return np.asarray(names, dtype=object)[ids]

    def explain(self, text: str, window: int = 1, max_variants: int = 256) -> Explanation:
        """Occlusion: P(positive) of the text minus P(positive) with a window of words dropped
        (k > 2 classes: the probability of the text's predicted label, likewise).

        Windows of `window` words slide one word at a time; a word's contribution is the mean
        over the windows that cover it. Past `max_variants` windows the stride (and the window)
        grows so that one call costs at most max_variants + 1 predictions, all in one batch.
        """
        if window < 1 or max_variants < 1:
            raise ConfigError("explain needs window >= 1 and max_variants >= 1.")
        spans = [(m.start(), m.end()) for m in WORD.finditer(text)]
        if not spans:
            raise DataError("The text to explain is empty.")
        stride = math.ceil(len(spans) / max_variants) if len(spans) > max_variants else 1
        window = max(window, stride)
        starts = list(range(0, max(len(spans) - window, 0) + 1, stride))
        if starts[-1] + window < len(spans):
            starts.append(len(spans) - window)  # cover the last words too
        variants = [_without(text, spans, s, min(s + window, len(spans))) for s in starts]
        # A text with every word dropped says nothing: score it as undecided (0.5; 1 / k).
        scored = [i for i, v in enumerate(variants) if v.strip()]
        names = self.label_names
        batch = [text] + [variants[i] for i in scored]
        if len(names) == 2:
            proba, classes = self.predict_proba(batch), None
        else:
            classes = self.predict_class_proba(batch)
            target = int(classes[0].argmax())
            proba = classes[:, target]
        without = np.full(len(variants), 1.0 / len(names))
        without[scored] = proba[1:]
        total, count = np.zeros(len(spans)), np.zeros(len(spans))
        for s, p in zip(starts, without, strict=True):
            total[s : s + window] += proba[0] - p
            count[s : s + window] += 1
        words = [
            WordContribution(text[a:b], a, b, float(c))
            for (a, b), c in zip(spans, total / count, strict=True)
        ]
        if classes is None:
            label = names[int(labels_from_proba(proba[0]))]
            return Explanation(text, float(proba[0]), label, window, words)
        probabilities = {name: float(p) for name, p in zip(names, classes[0], strict=True)}
        return Explanation(text, None, names[target], window, words, probabilities)


def _without(text: str, spans: list[tuple[int, int]], first: int, stop: int) -> str:
    """`text` with words first..stop-1 cut out (the rest, whitespace included, unchanged)."""
    return text[: spans[first][0]] + text[spans[stop - 1][1] :]


def _as_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise DataError("predict takes a list of texts; wrap a single text in a list.")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"Text {index} is {type(text).__name__}, not a string.")
    return texts


def load_run(
    path: str | Path,
    backend: str = "original",
    threads: int | None = None,
    trust_remote_code: bool = False,
) -> RunModel:
    """Load a complete run directory: its own model, or its ONNX / int8 / bf16 variant.

    A run trained with trust_remote_code = true is refused unless `trust_remote_code=True`:
    loading it runs Python code shipped in the run folder, which is the caller's choice alone.
    """
    from sentibench.runs import load_predictor
    from sentibench.runs import load_run as load_record

    if backend not in BACKENDS:
        raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    set_threads(threads)
    record = load_record(Path(path))
    predictor: Predictor = load_predictor(Path(path), trust_remote_code=trust_remote_code)
    if backend != "original":
        from sentibench.inference.export import load_export

        predictor = load_export(record, predictor, backend, threads)
    return RunModel(predictor, record, backend)
