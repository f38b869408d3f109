"""`sentibench data fetch` / `data info`: read a source, check it, and cache it atomically.

The cache is a prepared folder (`imdb_dir()`): train.parquet, test.parquet and manifest.json
(source, input file and its sha256, counts, sha256 of each prepared file, package version).
It is built in a temporary folder next to it and renamed into place (data/store.py), so a
failed fetch leaves the previous cache as it was and never a half-written file; the staging
folders of a killed fetch are removed by the next one.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from sentibench.data.dataset import (
    class_counts,
    imdb_dir,
    label_names_of,
    load_official,
    resolve_data,
    sentibench_home,
    sha256_file,
    user_path,
    validate_frame,
)
from sentibench.data.sources import read_source
from sentibench.data.store import (
    files_match,
    home_lock,
    make_staging,
    publish,
    remove_leftovers,
    write_splits,
)
from sentibench.errors import DataError
from sentibench.provenance import sentibench_version
from sentibench.runs import now_iso

SPLITS = ("train", "test")
OFFICIAL_PER_CLASS = 12_500  # the official split: 25,000 reviews each, balanced
BUSY = "Another `sentibench data fetch` is writing {home}; wait for it to finish."


def fetch_imdb(source: str, path: Path | None = None, allow_partial: bool = False) -> dict:
    """Read `source` (from `path`, or its default location), check it, write the cache.

    allow_partial accepts any counts as long as each split has both classes (fixtures, subsets);
    otherwise each split must be exactly the official 12,500 negative + 12,500 positive.
    Returns the manifest written next to the data.
    """
    path = None if path is None else user_path(path)
    where = f"source {source}" + (f" ({path})" if path is not None else "")
    home = sentibench_home()
    with home_lock(home, BUSY.format(home=home)):  # first: an unwritable home fails early
        remove_leftovers(imdb_dir())
        frames = read_source(source, path)
        checked = {s: validate_frame(frames[s], f"{where}, {s} split") for s in SPLITS}
        for split, frame in checked.items():
            _check_balance(frame, f"{where}, {split} split", allow_partial)
        return _write_cache(source, path, checked, allow_partial)


def _write_cache(
    source: str,
    path: Path | None,
    checked: dict[str, pd.DataFrame],
    allow_partial: bool,
) -> dict:
    staging = make_staging(imdb_dir())
    try:
        manifest = {
            "source": source,
            "input": _describe_input(path),
            "created": now_iso(),
            "official_split": not allow_partial or _is_official(checked),
            "counts": {split: class_counts(frame) for split, frame in checked.items()},
            "files": write_splits(staging, checked),
            "sentibench_version": sentibench_version(),
        }
        publish(staging, imdb_dir(), manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful rename
    return manifest


def data_info(data: str) -> dict:
    """Folder, manifest, label names, counts per class and mean length of --data (see
    resolve_data)."""
    folder, _ = resolve_data(data)
    train, test, name, digest = load_official(data)
    label_names = label_names_of(folder)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    provenance = folder / "PROVENANCE.md"
    return {
        "data": name,
        "folder": str(folder),
        "sha256": digest,
        "manifest": manifest,
        "provenance": str(provenance) if provenance.exists() else None,  # the bundled sample's
        "files_match_manifest": files_match(folder, manifest),
        "label_names": list(label_names),
        "splits": {
            split: {**class_counts(frame, label_names), "mean_words": round(_mean_words(frame), 1)}
            for split, frame in (("train", train), ("test", test))
        },
    }


def _check_balance(frame: pd.DataFrame, where: str, allow_partial: bool) -> None:
    counts = class_counts(frame)
    if allow_partial:
        if counts["negative"] == 0 or counts["positive"] == 0:
            raise DataError(f"{where} has only one class ({counts}); both are needed.")
    elif counts["negative"] != OFFICIAL_PER_CLASS or counts["positive"] != OFFICIAL_PER_CLASS:
        raise DataError(
            f"{where} has {counts['negative']:,} negative and {counts['positive']:,} positive "
            f"reviews, not the official {OFFICIAL_PER_CLASS:,} each; pass --allow-partial "
            "to keep a subset."
        )


def _is_official(frames: dict[str, pd.DataFrame]) -> bool:
    return all(
        class_counts(f)["negative"] == class_counts(f)["positive"] == OFFICIAL_PER_CLASS
        for f in frames.values()
    )


def _mean_words(frame: pd.DataFrame) -> float:
    return float(frame["text"].str.split().str.len().mean()) if len(frame) else 0.0


def _describe_input(path: Path | None) -> dict:
    if path is None:
        return {"path": None, "sha256": None}  # the source's own download or package
    return {"path": str(path.resolve()), "sha256": sha256_file(path) if path.is_file() else None}
