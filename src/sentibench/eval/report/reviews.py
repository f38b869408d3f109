"""The test reviews behind the runs: labels, texts and lengths of the TEST split of the data a
run names, checked against the run's sha256.

predictions.csv holds ids and predictions only (it is a Kaggle submission), so significance and
error analysis need the labels anyway, and reading them once per dataset is cheaper than copying
25k texts into every run. Where the data is not on this machine, the caller is told why.
"""

from __future__ import annotations

import pandas as pd

from sentibench.data.dataset import load_test
from sentibench.data.text import clean
from sentibench.errors import SentibenchError

EXCERPT_CHARS = 200
LENGTH_BUCKETS = 4


def load_test_set(source: str, sha256: str) -> tuple[pd.DataFrame | None, str]:
    """The test split (id, text, label, words) of the data a run names, or None and why not."""
    try:
        test, digest = load_test(source)
    except SentibenchError:
        return None, f"the data '{source}' is not on this machine or is incomplete"
    if digest != sha256:
        return None, f"the data '{source}' here is not the data the runs used (sha256 differs)"
    test = test[["id", "text", "label"]].copy()
    test["words"] = test["text"].str.split().str.len()
    return test, ""


def length_bucket_labels(words: pd.Series) -> pd.Series:
    """Quartile buckets of review length in words, labelled like '120–250'."""
    codes, edges = pd.qcut(words, LENGTH_BUCKETS, labels=False, retbins=True, duplicates="drop")
    names = [
        f"{int(edges[i]) + (1 if i else 0)}–{int(edges[i + 1])}" for i in range(len(edges) - 1)
    ]
    ordered = pd.Categorical.from_codes(codes.astype(int), categories=names, ordered=True)
    return pd.Series(ordered, index=words.index)


def excerpt(text: str) -> str:
    text = clean(text)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"
