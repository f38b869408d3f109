"""The one data form every model sees: rows (id, text, label, rating|null) in train /
validation / test, read from a prepared folder (the cache, the bundled sample, or a user's).

A prepared folder holds `train.parquet` and `test.parquet` (or `.jsonl`) with the columns
above and, when sentibench wrote it, `manifest.json` (source, counts, sha256 of each file, and
"label_names": the class names in label-id order; absent means negative, positive).
Validation is carved from train only (stratified, seeded); test is never used for a choice.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentibench.errors import DataError
from sentibench.labels import BINARY_LABELS

COLUMNS = ("id", "text", "label", "rating")
SAMPLE_DIR = Path(__file__).parent / "sample"
TWEETS_SAMPLE_DIR = Path(__file__).parent / "sample_tweets"
# A dataset name in $SENTIBENCH_HOME (`data add NAME`): one plain folder name, never hidden.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def user_path(text: str | Path) -> Path:
    """A path as a user typed it, with ~ expanded; "~name" of no known user stays as typed
    (the error about a missing file then names it) instead of raising RuntimeError."""
    try:
        return Path(text).expanduser()
    except RuntimeError:
        return Path(text)


def sentibench_home() -> Path:
    return Path(os.environ.get("SENTIBENCH_HOME", Path.home() / ".cache" / "sentibench"))


def imdb_dir() -> Path:
    """Where `sentibench data fetch imdb` puts the prepared full dataset."""
    return sentibench_home() / "imdb"


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    source: str  # "sample", "imdb", a dataset name, or a folder path
    sha256: str  # of the prepared files, so a run names exactly the data it saw
    test_read: bool = True  # False: a tune trial's splits (test empty, sha256 of train only)
    label_names: tuple[str, ...] = BINARY_LABELS  # label id -> class name

    def summary(self) -> dict:
        """What a run record says about its data; two classes keep the form they always had
        (n and positive per split), more classes count each by name."""
        unread = {} if self.test_read else {"test": "not read (sha256 is of train only)"}
        frames = (("train", self.train), ("validation", self.validation), ("test", self.test))
        if len(self.label_names) == 2:
            counts = {
                name: {"n": len(frame), "positive": int(frame["label"].sum())}
                for name, frame in frames
            }
        else:
            counts = {name: class_counts(frame, self.label_names) for name, frame in frames}
        names = {} if self.label_names == BINARY_LABELS else {"label_names": list(self.label_names)}
        return {**unread, "source": self.source, "sha256": self.sha256, **names, "counts": counts}


def class_counts(
    frame: pd.DataFrame, label_names: tuple[str, ...] = BINARY_LABELS
) -> dict[str, int]:
    """{"n": rows, <name>: rows of that class, ...} in label-id order."""
    found = frame["label"].value_counts()
    return {"n": len(frame)} | {
        name: int(found.get(label, 0)) for label, name in enumerate(label_names)
    }


def label_names_of(folder: Path) -> tuple[str, ...]:
    """The class names of a prepared folder in label-id order: its manifest's "label_names",
    or negative, positive where it names none (IMDB, the bundled sample, older folders)."""
    path = Path(folder) / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # no manifest, or one sentibench did not write
        return BINARY_LABELS
    names = manifest.get("label_names") if isinstance(manifest, dict) else None
    if names is None:
        return BINARY_LABELS
    if (
        not isinstance(names, list)
        or len(names) < 2
        or not all(isinstance(n, str) and n.strip() for n in names)
        or len(set(names)) != len(names)
    ):
        raise DataError(
            f"{path} has label_names {names!r}; expected a list of two or more distinct names."
        )
    return tuple(names)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def validate_frame(
    frame: pd.DataFrame, where: str, label_names: tuple[str, ...] = BINARY_LABELS
) -> pd.DataFrame:
    """Check columns, labels (ids of `label_names`), empty texts and duplicate ids; return it in
    canonical dtypes."""
    missing = [c for c in ("id", "text", "label") if c not in frame.columns]
    if missing:
        expected = ", ".join(COLUMNS)
        raise DataError(f"{where} lacks column(s) {', '.join(missing)}; expected {expected}.")
    if "rating" not in frame.columns:
        frame = frame.assign(rating=pd.NA)
    frame = frame[list(COLUMNS)].reset_index(drop=True)
    if frame["text"].isna().any():
        row = int(frame.index[frame["text"].isna()][0])
        raise DataError(f"{where} row {row + 1} has no text.")
    frame["id"] = frame["id"].astype(str)
    frame["text"] = frame["text"].astype(str)
    empty = frame["text"].str.strip() == ""
    if empty.any():
        row = int(np.flatnonzero(empty.to_numpy())[0])
        raise DataError(f"{where} row {row + 1} (id {frame['id'][row]}) has empty text.")
    k = len(label_names)
    bad_label = ~frame["label"].isin(list(range(k)))
    if bad_label.any():
        row = int(np.flatnonzero(bad_label.to_numpy())[0])
        label = frame["label"].tolist()[row]  # a Python value: 3, not np.int64(3)
        expected = "0 or 1" if k == 2 else f"0 to {k - 1} ({', '.join(label_names)})"
        raise DataError(f"{where} row {row + 1} has label {label!r}; expected {expected}.")
    duplicated = frame["id"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise DataError(f"{where} row {row + 1} repeats id {frame['id'][row]!r}.")
    frame["label"] = frame["label"].astype(np.int64)
    frame["rating"] = _ratings(frame["rating"], where)
    return frame


def _ratings(column: pd.Series, where: str) -> pd.api.extensions.ExtensionArray:
    """The star ratings as Int64 (null where a source has none); anything else is an error."""
    try:
        with warnings.catch_warnings():  # numpy warns on a huge float before pandas raises
            warnings.simplefilter("ignore", RuntimeWarning)
            return pd.array(column, dtype="Int64")
    except (TypeError, ValueError, OverflowError):
        for row, value in enumerate(column):
            if not _whole_or_null(value):
                raise DataError(
                    f"{where} row {row + 1} has rating {value!r}; expected a whole number or null."
                ) from None
        raise DataError(f"{where} has a rating too large to be a number of stars.") from None


def _whole_or_null(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, bool | np.bool_):
        return False
    if isinstance(value, int | np.integer):
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value)) or float(value).is_integer()
    return False


def split_file(folder: Path, split: str) -> Path:
    """The file holding `split` in a prepared folder: split.parquet, else split.jsonl."""
    for suffix in (".parquet", ".jsonl"):
        path = folder / f"{split}{suffix}"
        if path.exists():
            return path
    raise DataError(
        f"{folder} has no {split}.parquet or {split}.jsonl; prepare it with "
        "`sentibench data fetch` or point --data at a prepared folder."
    )


def read_split(path: Path, label_names: tuple[str, ...] = BINARY_LABELS) -> pd.DataFrame:
    """Read and validate one split file (.parquet or .jsonl)."""
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, dtype={"id": str})
    except Exception as exc:  # pyarrow/pandas raise many types for a corrupt file
        raise DataError(f"{path} cannot be read ({type(exc).__name__}: {exc}).") from None
    return validate_frame(frame, str(path), label_names)


def data_sha256(folder: Path) -> str:
    """One digest naming a prepared folder's exact train and test files (recorded per run)."""
    both = sha256_file(split_file(folder, "train")) + sha256_file(split_file(folder, "test"))
    return hashlib.sha256(both.encode()).hexdigest()


def resolve_data(data: str) -> tuple[Path, str]:
    """Map --data to a prepared folder and a display name: auto | sample | tweets-sample (the
    bundled 3-class tweets) | imdb | NAME (a folder $SENTIBENCH_HOME/NAME with a manifest, from
    `data add`) | PATH (a prepared folder). A NAME in the home wins over a folder of that name."""
    if data == "auto":
        data = "imdb" if (imdb_dir() / "manifest.json").exists() else "sample"
    if data == "sample":
        return SAMPLE_DIR, "sample"
    if data == "tweets-sample":
        return TWEETS_SAMPLE_DIR, "tweets-sample"
    if data == "imdb":
        if not (imdb_dir() / "manifest.json").exists():
            raise DataError(
                f"No full IMDB data in {imdb_dir()}; run `sentibench data fetch imdb` first."
            )
        return imdb_dir(), "imdb"
    if NAME_PATTERN.fullmatch(data) and (sentibench_home() / data / "manifest.json").is_file():
        return sentibench_home() / data, data
    path = user_path(data)
    if not path.is_dir():
        raise DataError(
            f"--data {data}: no such folder or dataset (use sample, tweets-sample, imdb, a NAME "
            "from `sentibench data add`, or a prepared folder)."
        )
    return path, str(path)


def data_label_names(data: str) -> tuple[str, ...]:
    """The class names of --data in label-id order (beside load_official's four values)."""
    return label_names_of(resolve_data(data)[0])


def load_official(data: str) -> tuple[pd.DataFrame, pd.DataFrame, str, str]:
    """The official train and test frames of a prepared folder, its name and a combined sha256."""
    folder, name = resolve_data(data)
    names = label_names_of(folder)
    train = read_split(split_file(folder, "train"), names)
    test = read_split(split_file(folder, "test"), names)
    # No cross-split id check: aclImdb/Kaggle ids such as "0_9" recur in train and test.
    return train, test, name, data_sha256(folder)


def load_test(data: str) -> tuple[pd.DataFrame, str]:
    """Only the test split (reports need its labels and texts, never the training data)."""
    folder, _ = resolve_data(data)
    return read_split(split_file(folder, "test"), label_names_of(folder)), data_sha256(folder)


def carve_validation(
    train: pd.DataFrame, val_fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified, seeded split of the official train set into train and validation; with
    val_fraction 0, all of train and an empty validation frame (the refit)."""
    if val_fraction == 0:
        return train.reset_index(drop=True), train.iloc[:0].reset_index(drop=True)
    from sklearn.model_selection import train_test_split  # here: 2-3 s to import

    fit, validation = train_test_split(
        train, test_size=val_fraction, random_state=seed, stratify=train["label"]
    )
    return fit.reset_index(drop=True), validation.reset_index(drop=True)


def load_training_splits(data: str, val_fraction: float, seed: int) -> Splits:
    """Train and validation only, for a search: the test file is never opened (not even
    hashed), so nothing about it can leak into a choice of settings."""
    folder, name = resolve_data(data)
    names = label_names_of(folder)
    path = split_file(folder, "train")
    train = read_split(path, names)
    fit, validation = carve_validation(train, val_fraction, seed)
    require_every_class(fit, names, str(path))
    empty = train.iloc[:0].copy()
    return Splits(fit, validation, empty, name, sha256_file(path), False, names)


def load_splits(data: str = "auto", val_fraction: float = 0.1, seed: int = 0) -> Splits:
    train, test, name, digest = load_official(data)
    fit, validation = carve_validation(train, val_fraction, seed)
    names = data_label_names(data)
    require_every_class(fit, names, f"--data {data}")
    return Splits(fit, validation, test, name, digest, label_names=names)


def require_every_class(fit: pd.DataFrame, label_names: tuple[str, ...], where: str) -> None:
    """A class with no training row cannot be learned (its head row would stay untrained)."""
    missing = [n for i, n in enumerate(label_names) if not (fit["label"] == i).any()]
    if missing and len(fit):
        raise DataError(
            f"{where}: no training row of class {missing[0]!r} is left after the validation "
            "carve; add rows of it, or lower val_fraction."
        )
