"""Kaggle's `word2vec-nlp-tutorial` ("Bag of Words Meets Bags of Popcorn") files.

labeledTrainData.tsv (id, sentiment, review) is the official train split, testData.tsv (id,
review) the official test split with its labels withheld; unlabeledTrainData.tsv is not used.
Quirks of the real files: ids are quoted (`"5814_8"`) and quotes inside a review are escaped
with a backslash (`\\"`), not doubled, so the csv module is told exactly that. Test labels come
from the star rating in each id, as in the original split: <= 4 negative, >= 7 positive.
Each file may also be the `.tsv.zip` that Kaggle's download contains.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pandas as pd

from sentibench.data.dataset import user_path
from sentibench.errors import DataError, one_line

TRAIN = ("labeledTrainData.tsv", ("id", "sentiment", "review"))
TEST = ("testData.tsv", ("id", "review"))
REVIEW_ID = re.compile(r"(\d+)_(\d+)")


def read(path: Path | None = None) -> dict[str, pd.DataFrame]:
    """The official train and test splits from a word2vec-nlp-tutorial folder."""
    if path is None:
        raise DataError(
            "The kaggle source needs --path: the word2vec-nlp-tutorial folder downloaded from "
            "Kaggle (labeledTrainData.tsv, testData.tsv)."
        )
    folder = user_path(path)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder; pass the word2vec-nlp-tutorial folder.")
    return {"train": _read_tsv(folder, *TRAIN), "test": _read_tsv(folder, *TEST)}


def label_from_rating(rating: int) -> int | None:
    """IMDB's polarity rule: <= 4 stars negative, >= 7 positive, 5-6 never in the dataset."""
    return 0 if rating <= 4 else 1 if rating >= 7 else None


def _read_tsv(folder: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    where, text = _read_text(folder, name)
    reader = csv.reader(
        io.StringIO(text, newline=""),
        delimiter="\t",
        quotechar='"',
        escapechar="\\",
        doublequote=False,
        strict=True,
    )
    rows: list[tuple] = []
    seen: dict[str, int] = {}
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != columns:
            raise DataError(
                f"{where} has columns {header}; expected {', '.join(columns)} separated by tabs."
            )
        for fields in reader:
            rows.append(_parse_row(fields, columns, where, reader.line_num, seen))
    except csv.Error as exc:
        raise DataError(f"{where} line {reader.line_num} is malformed ({one_line(exc)}).") from None
    return pd.DataFrame(rows, columns=["id", "text", "label", "rating"]).astype(
        {"label": "int64", "rating": "Int64"}
    )


def _parse_row(
    fields: list[str], columns: tuple[str, ...], where: str, line: int, seen: dict[str, int]
) -> tuple:
    if len(fields) != len(columns):
        raise DataError(f"{where} line {line} has {len(fields)} fields, expected {len(columns)}.")
    row = dict(zip(columns, fields, strict=True))
    review_id = row["id"].strip().strip('"')
    match = REVIEW_ID.fullmatch(review_id)
    if match is None:
        raise DataError(f"{where} line {line} has id {row['id']!r}, not <num>_<rating>.")
    if review_id in seen:
        raise DataError(f"{where} line {line} repeats id {review_id} of line {seen[review_id]}.")
    seen[review_id] = line
    if not row["review"].strip():
        raise DataError(f"{where} line {line} (id {review_id}) has an empty review.")
    rating = int(match.group(2))
    if "sentiment" in row:
        if row["sentiment"].strip() not in ("0", "1"):
            raise DataError(f"{where} line {line} has sentiment {row['sentiment']!r}, not 0 or 1.")
        label: int | None = int(row["sentiment"])
    else:
        label = label_from_rating(rating)
        if label is None:
            raise DataError(
                f"{where} line {line} (id {review_id}) has rating {rating}, which gives no label "
                "(IMDB reviews are rated <= 4 or >= 7)."
            )
    return review_id, row["review"], label, rating


def _read_text(folder: Path, name: str) -> tuple[str, str]:
    """The decoded file (plain, or the only member of `name`.zip) and its name for messages."""
    plain, zipped = folder / name, folder / f"{name}.zip"
    if plain.is_file():
        where, raw = str(plain), plain.read_bytes()
    elif zipped.is_file():
        where = f"{zipped}:{name}"
        try:
            with zipfile.ZipFile(zipped) as archive:
                raw = archive.read(name)
        except (zipfile.BadZipFile, KeyError, OSError, EOFError) as exc:
            raise DataError(
                f"{zipped} is not a valid zip holding {name} ({one_line(exc)})."
            ) from None
    else:
        raise DataError(f"{plain} is missing; the kaggle source needs {name} in {folder}.")
    try:
        return where, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(f"{where} line {line} is not valid UTF-8.") from None
