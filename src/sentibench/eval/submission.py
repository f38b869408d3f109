"""Score a Kaggle-format submission (`id,sentiment`) against a dataset's test labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sentibench.errors import DataError
from sentibench.metrics import classification_metrics


def read_submission(path: Path) -> pd.DataFrame:
    """Read `id,sentiment[,...]`; ids as strings, sentiment 0/1; clear errors for bad files."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path} does not exist.")
    try:
        frame = pd.read_csv(path, dtype={"id": str})
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8 (byte {exc.start}).") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path} is not a readable CSV ({exc}).") from None
    missing = {"id", "sentiment"} - set(frame.columns)
    if missing:
        raise DataError(
            f"{path} lacks column(s) {', '.join(sorted(missing))}; expected id,sentiment."
        )
    frame["id"] = frame["id"].str.strip('"')
    bad = ~frame["sentiment"].isin([0, 1])
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"{path} line {row + 2}: sentiment {frame['sentiment'][row]!r} is not 0 or 1."
        )
    duplicated = frame["id"].duplicated()
    if duplicated.any():
        row = int(duplicated.to_numpy().nonzero()[0][0])
        raise DataError(f"{path} line {row + 2}: id {frame['id'][row]!r} appears twice.")
    return frame


def score_submission(path: Path, test: pd.DataFrame) -> dict:
    """Metrics of a submission over exactly the test ids (none missing, none unknown)."""
    frame = read_submission(path)
    known = set(test["id"])
    unknown = [i for i in frame["id"] if i not in known]
    if unknown:
        raise DataError(
            f"{path}: {len(unknown)} id(s) are not in the test set, e.g. {unknown[0]!r}."
        )
    given = set(frame["id"])
    absent = [i for i in test["id"] if i not in given]
    if absent:
        raise DataError(f"{path}: {len(absent)} test id(s) have no prediction, e.g. {absent[0]!r}.")
    predictions = frame.set_index("id").loc[test["id"], "sentiment"].to_numpy()
    return classification_metrics(test["label"].to_numpy(), predictions)
