"""Hygiene of a dataset being added (`data add`): what is an error and what is counted.

Errors (nothing is written): a missing or empty (whitespace-only) text, a missing or repeated
id. Counted, and recorded in the manifest's "hygiene" block: exact duplicate texts inside a
split (rows repeating an earlier row's text; how many of them with another label) and leakage
(train rows whose exact text is also in test). With dedupe, duplicates are dropped inside each
split (the first is kept) and then every train row whose text is also in test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentibench.errors import DataError


def _strings(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """The values as strings (a missing one as ""), and where they are blank: missing, empty
    or whitespace only."""
    missing = values.isna().to_numpy()
    strings = values.astype(object).where(~missing, "").map(str)
    return strings, missing | (strings.str.strip() == "").to_numpy()


def checked_texts(values: pd.Series, where: str, column: str) -> pd.Series:
    """The texts as strings; a missing or whitespace-only one names its row and column."""
    texts, empty = _strings(values)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise DataError(
            f"{where} row {row + 1} has an empty text in column {column!r}; remove the row or "
            "fill it in."
        )
    return texts.astype(str)


def checked_ids(values: pd.Series, where: str, column: str) -> pd.Series:
    """The ids as strings; a missing or repeated one names its row and column."""
    ids, bad = _strings(values)
    ids = ids.str.strip()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(f"{where} row {row + 1} has no id in column {column!r}.")
    repeated = ids.duplicated().to_numpy()
    if repeated.any():
        row = int(np.flatnonzero(repeated)[0])
        raise DataError(
            f"{where} row {row + 1} repeats id {ids[row]!r} of column {column!r}; ids must be "
            "unique."
        )
    return ids.astype(str)


def clean(
    train: pd.DataFrame, test: pd.DataFrame, dedupe: bool
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Count duplicates and leakage; with `dedupe`, drop them. Returns the (possibly smaller)
    splits and the manifest's hygiene block."""
    frames = {"train": train, "test": test}
    duplicated = {split: frame["text"].duplicated().to_numpy() for split, frame in frames.items()}
    other_label = {
        split: int((duplicated[split] & ~frame[["text", "label"]].duplicated().to_numpy()).sum())
        for split, frame in frames.items()
    }
    leaked = train["text"].isin(set(test["text"])).to_numpy()
    report = {
        "empty_texts": 0,  # an empty text is an error, never written
        "duplicates": {split: int(d.sum()) for split, d in duplicated.items()},
        "duplicates_with_other_label": other_label,
        "leakage": int(leaked.sum()),  # train rows whose text is also in test
        "dedupe": dedupe,
        "removed": {"train": 0, "test": 0},
    }
    if not dedupe:
        return train, test, report
    test = test[~duplicated["test"]]
    train = train[~(duplicated["train"] | leaked)]
    kept = {"train": len(train), "test": len(test)}
    report["removed"] = {split: len(frames[split]) - kept[split] for split in frames}
    return train.reset_index(drop=True), test.reset_index(drop=True), report
