"""Score a Kaggle-format submission (`id,sentiment`) against a dataset's test labels."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from sentibench.errors import DataError, one_line
from sentibench.metrics import classification_metrics

if TYPE_CHECKING:
    from _csv import Reader  # the type csv.reader returns

REQUIRED = ("id", "sentiment")
# Kaggle's format is 0 or 1; "1.0" is what a float column written by pandas gives.
SENTIMENT = re.compile(r"([01])(?:\.0*)?")


def read_submission(path: Path) -> pd.DataFrame:
    """Read `id,sentiment[,...]`; ids as strings, sentiment 0/1; clear errors for bad files.

    Read with the csv module, not pandas, so that every error names the line of the file the
    row starts on (blank lines and quoted multi-line fields included) and a value is never
    guessed into a number (pandas reads True/False as 1/0).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist." if not path.exists() else f"{path} is a folder.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid UTF-8 (byte {exc.start}).") from None
    csv.field_size_limit(2**31 - 1)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header, rows = _read_rows(reader, path)
    except csv.Error as exc:
        raise DataError(
            f"{path} line {reader.line_num} is not readable CSV ({one_line(exc)})."
        ) from None
    frame = pd.DataFrame([row for _, row in rows], columns=header, dtype=object)
    frame["sentiment"] = frame["sentiment"].astype("int64")
    return frame


def _read_rows(reader: Reader, path: Path) -> tuple[list[str], list[tuple[int, list[object]]]]:
    """The header and (line, row) of every row, each row checked (`sentiment` made an int)."""
    header = next(reader, None)
    if not header:
        raise DataError(f"{path} is empty; expected a header id,sentiment and one row per id.")
    header = [name.strip() for name in header]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise DataError(f"{path} lacks column(s) {', '.join(missing)}; expected id,sentiment.")
    if len(set(header)) != len(header):
        raise DataError(f"{path} header repeats a column name ({','.join(header)}).")
    id_at, sentiment_at = header.index("id"), header.index("sentiment")
    rows: list[tuple[int, list[object]]] = []
    seen: dict[str, int] = {}
    line = reader.line_num + 1  # the line the next row starts on
    for row in reader:
        if row:  # a blank line is no row (a trailing newline, an empty line in between)
            if len(row) != len(header):
                raise DataError(
                    f"{path} line {line} has {len(row)} fields, the header has {len(header)}."
                )
            review_id = row[id_at].strip().strip('"')
            if not review_id:
                raise DataError(f"{path} line {line} has an empty id.")
            if review_id in seen:
                raise DataError(
                    f"{path} line {line}: id {review_id!r} appears twice (first on line "
                    f"{seen[review_id]})."
                )
            seen[review_id] = line
            match = SENTIMENT.fullmatch(row[sentiment_at].strip())
            if match is None:
                raise DataError(
                    f"{path} line {line}: sentiment {row[sentiment_at]!r} is not 0 or 1."
                )
            cells: list[object] = list(row)
            cells[id_at], cells[sentiment_at] = review_id, int(match.group(1))
            rows.append((line, cells))
        line = reader.line_num + 1
    return header, rows


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
