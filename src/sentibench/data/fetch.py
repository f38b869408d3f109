"""`sentibench data fetch` / `data info`: read a source, check it, and cache it atomically.

The cache is a prepared folder (`imdb_dir()`): train.parquet, test.parquet and manifest.json
(source, input file and its sha256, counts, sha256 of each prepared file, package version).
It is built in a temporary folder next to it and renamed into place, so a failed fetch leaves
the previous cache as it was and never a half-written file. A fetch holds a lock on
$SENTIBENCH_HOME while it writes, so the staging folders it finds there at its start are the
leftovers of a fetch that was killed (kill -9, SIGTERM): it removes them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from sentibench.data.dataset import (
    imdb_dir,
    load_official,
    resolve_data,
    sentibench_home,
    sha256_file,
    user_path,
    validate_frame,
)
from sentibench.data.sources import read_source
from sentibench.errors import DataError
from sentibench.provenance import sentibench_version
from sentibench.runs import exclusive_lock, now_iso

SPLITS = ("train", "test")
OFFICIAL_PER_CLASS = 12_500  # the official split: 25,000 reviews each, balanced
STAGING_PREFIX, GRAVEYARD_PREFIX = ".imdb-new-", ".imdb-old-"
# Exactly what tempfile.mkdtemp(prefix=...) names them: nothing else in the home is touched.
LEFTOVER = re.compile(r"\.imdb-(new|old)-[a-z0-9_]+")


def fetch_imdb(source: str, path: Path | None = None, allow_partial: bool = False) -> dict:
    """Read `source` (from `path`, or its default location), check it, write the cache.

    allow_partial accepts any counts as long as each split has both classes (fixtures, subsets);
    otherwise each split must be exactly the official 12,500 negative + 12,500 positive.
    Returns the manifest written next to the data.
    """
    path = None if path is None else user_path(path)
    where = f"source {source}" + (f" ({path})" if path is not None else "")
    home = sentibench_home()
    with _fetch_lock(home):  # first: an unwritable home fails before a long read
        _remove_leftovers(home)
        frames = read_source(source, path)
        checked = {s: validate_frame(frames[s], f"{where}, {s} split") for s in SPLITS}
        for split, frame in checked.items():
            _check_balance(frame, f"{where}, {split} split", allow_partial)
        return _write_cache(home, source, path, checked, allow_partial)


def _write_cache(
    home: Path,
    source: str,
    path: Path | None,
    checked: dict[str, pd.DataFrame],
    allow_partial: bool,
) -> dict:
    try:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=home))
    except OSError as exc:
        raise _unwritable(home, exc) from None
    staging.chmod(0o755)  # mkdtemp makes it owner-only; the cache is an ordinary folder
    try:
        files = {}
        for split, frame in checked.items():
            file = staging / f"{split}.parquet"
            frame.to_parquet(file, index=False, compression="zstd")
            files[file.name] = {"sha256": sha256_file(file), "bytes": file.stat().st_size}
        manifest = {
            "source": source,
            "input": _describe_input(path),
            "created": now_iso(),
            "official_split": not allow_partial or _is_official(checked),
            "counts": {split: _counts(frame) for split, frame in checked.items()},
            "files": files,
            "sentibench_version": sentibench_version(),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(staging, imdb_dir())
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # already gone after a successful rename
    return manifest


@contextlib.contextmanager
def _fetch_lock(home: Path) -> Iterator[None]:
    """Create `home` and hold an exclusive lock on it (released by the OS, even on kill -9)."""
    if home.exists() and not home.is_dir():
        raise DataError(
            f"SENTIBENCH_HOME {home} is a file, not a folder; set SENTIBENCH_HOME to a folder."
        )
    try:
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(home, os.O_RDONLY)
    except OSError as exc:
        raise _unwritable(home, exc) from None
    busy = DataError(f"Another `sentibench data fetch` is writing {home}; wait for it to finish.")
    try:
        with exclusive_lock(descriptor, busy):
            yield
    finally:
        os.close(descriptor)  # also releases the lock


def _remove_leftovers(home: Path) -> None:
    """Remove the staging folders of killed fetches (only called under the lock, so none is
    live). A fetch killed between moving the old cache aside and renaming the new one in left
    no cache: the old one is put back first."""
    if os.name != "posix":
        return
    try:
        entries = sorted(home.iterdir())
    except OSError:  # a home that cannot be listed cannot be written either: said next
        return
    for entry in entries:
        if not LEFTOVER.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        old_cache = entry / imdb_dir().name
        if entry.name.startswith(GRAVEYARD_PREFIX) and old_cache.is_dir():
            with contextlib.suppress(OSError):
                if not imdb_dir().exists():
                    os.rename(old_cache, imdb_dir())
        shutil.rmtree(entry, ignore_errors=True)


def _unwritable(home: Path, exc: OSError) -> DataError:
    reason = exc.strerror or type(exc).__name__
    return DataError(
        f"Cannot write the dataset cache in {home} ({reason}); set SENTIBENCH_HOME to a "
        "writable folder."
    )


def data_info(data: str) -> dict:
    """Folder, manifest, counts, class balance and mean length of --data (auto|sample|imdb|PATH)."""
    folder, _ = resolve_data(data)
    train, test, name, digest = load_official(data)
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else None
    provenance = folder / "PROVENANCE.md"
    return {
        "data": name,
        "folder": str(folder),
        "sha256": digest,
        "manifest": manifest,
        "provenance": str(provenance) if provenance.exists() else None,  # the bundled sample's
        "files_match_manifest": _files_match(folder, manifest),
        "splits": {
            split: {**_counts(frame), "mean_words": round(_mean_words(frame), 1)}
            for split, frame in (("train", train), ("test", test))
        },
    }


def _check_balance(frame: pd.DataFrame, where: str, allow_partial: bool) -> None:
    counts = _counts(frame)
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
        _counts(f)["negative"] == _counts(f)["positive"] == OFFICIAL_PER_CLASS
        for f in frames.values()
    )


def _counts(frame: pd.DataFrame) -> dict:
    positive = int(frame["label"].sum())
    return {"n": len(frame), "negative": len(frame) - positive, "positive": positive}


def _mean_words(frame: pd.DataFrame) -> float:
    return float(frame["text"].str.split().str.len().mean()) if len(frame) else 0.0


def _describe_input(path: Path | None) -> dict:
    if path is None:
        return {"path": None, "sha256": None}  # the source's own download or package
    return {"path": str(path.resolve()), "sha256": sha256_file(path) if path.is_file() else None}


def _files_match(folder: Path, manifest: dict | None) -> bool | None:
    """Whether every file in the manifest still has its recorded sha256 (None: no manifest)."""
    if manifest is None:
        return None
    return all(
        (folder / name).is_file() and sha256_file(folder / name) == entry["sha256"]
        for name, entry in manifest.get("files", {}).items()
    )


def _replace_dir(new: Path, target: Path) -> None:
    """Rename `new` onto `target`; the old `target` is moved aside first and restored on failure."""
    if not target.exists():
        os.rename(new, target)
        return
    graveyard = Path(tempfile.mkdtemp(prefix=GRAVEYARD_PREFIX, dir=target.parent))
    old = graveyard / target.name
    os.rename(target, old)
    try:
        os.rename(new, target)
    except OSError:
        os.rename(old, target)
        raise
    finally:
        shutil.rmtree(graveyard, ignore_errors=True)
