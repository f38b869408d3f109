"""Prepared folders in $SENTIBENCH_HOME, written all at once (`data fetch` and `data add`).

A folder is built in a staging folder `.NAME-new-XXXX` next to it and renamed into place; the
previous one is moved aside to `.NAME-old-XXXX` first and put back if the rename fails. A
writer holds a lock on the home while it writes, so the staging folders it finds there at its
start are the leftovers of a writer that was killed (kill -9, SIGTERM): it removes them.
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

from sentibench.data.dataset import sha256_file
from sentibench.errors import DataError
from sentibench.runs import exclusive_lock, replace_dir


@contextlib.contextmanager
def home_lock(home: Path, busy: str) -> Iterator[None]:
    """Create `home` and hold an exclusive lock on it (released by the OS, even on kill -9);
    `busy` is the message when another writer holds it."""
    if home.exists() and not home.is_dir():
        raise DataError(
            f"SENTIBENCH_HOME {home} is a file, not a folder; set SENTIBENCH_HOME to a folder."
        )
    try:
        home.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(home, os.O_RDONLY)
    except OSError as exc:
        raise unwritable(home, exc) from None
    try:
        with exclusive_lock(descriptor, DataError(busy)):
            yield
    finally:
        os.close(descriptor)  # also releases the lock


def _leftover(name: str) -> re.Pattern[str]:
    # Exactly what tempfile.mkdtemp(prefix=...) names them: nothing else in the home is touched.
    return re.compile(rf"\.{re.escape(name)}-(new|old)-[a-z0-9_]+")


def remove_leftovers(target: Path) -> None:
    """Remove the staging folders that killed writes of `target` left next to it (only called
    under the lock, so none is live). A write killed between moving the old folder aside and
    renaming the new one in left none: the old one is put back first."""
    if os.name != "posix":
        return
    try:
        entries = sorted(target.parent.iterdir())
    except OSError:  # a home that cannot be listed cannot be written either: said next
        return
    pattern = _leftover(target.name)
    for entry in entries:
        if not pattern.fullmatch(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        old = entry / target.name
        if entry.name.startswith(f".{target.name}-old-") and old.is_dir():
            with contextlib.suppress(OSError):
                if not target.exists():
                    os.rename(old, target)
        shutil.rmtree(entry, ignore_errors=True)


def unwritable(home: Path, exc: OSError) -> DataError:
    reason = exc.strerror or type(exc).__name__
    return DataError(
        f"Cannot write the dataset cache in {home} ({reason}); set SENTIBENCH_HOME to a "
        "writable folder."
    )


def make_staging(target: Path) -> Path:
    """A new empty staging folder next to `target` (an ordinary 0755 folder)."""
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    except OSError as exc:
        raise unwritable(target.parent, exc) from None
    staging.chmod(0o755)  # mkdtemp makes it owner-only; the cache is an ordinary folder
    return staging


def write_splits(staging: Path, frames: dict[str, pd.DataFrame]) -> dict[str, dict]:
    """Write each split as `<split>.parquet`; return {file name: {sha256, bytes}}."""
    files = {}
    for split, frame in frames.items():
        file = staging / f"{split}.parquet"
        frame.to_parquet(file, index=False, compression="zstd")
        files[file.name] = {"sha256": sha256_file(file), "bytes": file.stat().st_size}
    return files


def publish(staging: Path, target: Path, manifest: dict) -> None:
    """Write the manifest last and rename the staging folder onto `target`."""
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    replace_dir(staging, target)


def is_prepared_by_us(folder: Path) -> bool:
    """Whether `folder` holds a manifest.json that sentibench wrote (fetch or add)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and "sentibench_version" in manifest


def files_match(folder: Path, manifest: dict | None) -> bool | None:
    """Whether every file in the manifest still has its recorded sha256 (None: no manifest)."""
    if manifest is None:
        return None
    return all(
        (folder / name).is_file() and sha256_file(folder / name) == entry["sha256"]
        for name, entry in manifest.get("files", {}).items()
    )
