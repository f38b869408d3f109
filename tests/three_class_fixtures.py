"""A tiny 3-class prepared folder (negative / neutral / positive) that any test can build:
short texts of a few class words among shared filler words, so a linear model or a small net
learns it in a second. Import it (tests/ is on sys.path, see conftest.py):

    from three_class_fixtures import LABEL_NAMES, write_three_class_folder
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

LABEL_NAMES = ("negative", "neutral", "positive")
CLASS_WORDS = (
    ("awful", "boring", "hated", "worst", "dull"),
    ("okay", "average", "plain", "fine", "ordinary"),
    ("great", "wonderful", "loved", "best", "superb"),
)
FILLER = ("the", "film", "was", "a", "story", "cast", "and", "it", "music", "plot", "this", "of")


def three_class_frame(n: int, seed: int, prefix: str) -> pd.DataFrame:
    """`n` rows, classes in turn (balanced), each text 1-2 words of its class, in a third of
    them one of another class (so that no model is sure of everything), among 4-6 fillers."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % len(LABEL_NAMES)
        words = list(rng.choice(CLASS_WORDS[label], rng.integers(1, 3)))
        if rng.random() < 1 / 3:
            other = (label + rng.integers(1, len(LABEL_NAMES))) % len(LABEL_NAMES)
            words.append(rng.choice(CLASS_WORDS[other]))
        words += list(rng.choice(FILLER, rng.integers(4, 7)))
        rng.shuffle(words)
        rows.append({"id": f"{prefix}{i}", "text": " ".join(words), "label": label})
    return pd.DataFrame(rows)


def write_three_class_folder(folder: Path, n_train: int = 90, n_test: int = 30) -> Path:
    """A prepared folder: train.parquet, test.parquet and a manifest.json with label_names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train, test = three_class_frame(n_train, 0, "tr"), three_class_frame(n_test, 1, "te")
    train.to_parquet(folder / "train.parquet", index=False)
    test.to_parquet(folder / "test.parquet", index=False)
    manifest = {"source": "three-class fixture", "label_names": list(LABEL_NAMES)}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder
