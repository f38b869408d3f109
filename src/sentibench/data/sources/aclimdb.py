"""The Stanford Large Movie Review Dataset as published: `aclImdb_v1.tar.gz`.

Layout `aclImdb/{train,test}/{pos,neg}/<num>_<rating>.txt`, one review per file (train/unsup,
the vocabulary and URL lists are not read). Ids are `<num>_<rating>` and ratings are kept; the
same id can occur in train and in test. Read from the tarball without extracting it, from an
extracted folder, or downloaded (with the published sha256) when no path is given.
"""

from __future__ import annotations

import re
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pandas as pd
from rich.progress import Progress

from sentibench.data.dataset import sentibench_home, sha256_file, user_path
from sentibench.errors import DataError, one_line
from sentibench.runs import atomic_path

URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
# Published checksum (the one TensorFlow Datasets and others verify against).
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
REVIEW_NAME = re.compile(r"(\d+)_(\d+)\.txt")
MEMBER = re.compile(r"(?:.*/)?aclImdb/(train|test)/(pos|neg)/([^/]+)")
LABELS = {"neg": 0, "pos": 1}
SPLITS = ("train", "test")

_open_url = urllib.request.urlopen  # replaced in tests: no network there


def read(path: Path | None = None) -> dict[str, pd.DataFrame]:
    """The official train and test splits from a tarball, an extracted folder, or a download."""
    path = download() if path is None else user_path(path)
    if path.is_dir():
        records = _read_folder(path)
    elif path.is_file():
        records = _read_tarball(path)
    else:
        raise DataError(f"{path} does not exist; pass aclImdb_v1.tar.gz or its extracted folder.")
    return _frames(records, path)


def download(directory: Path | None = None) -> Path:
    """Download the tarball into sentibench_home()/downloads (kept if its sha256 matches)."""
    target = (directory or sentibench_home() / "downloads") / "aclImdb_v1.tar.gz"
    if target.is_file() and sha256_file(target) == SHA256:
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"Cannot write the download to {target.parent} ({exc.strerror or exc}); set "
            "SENTIBENCH_HOME to a writable folder or pass a local tarball with --path."
        ) from None
    try:
        with _open_url(URL, timeout=60) as response, atomic_path(target) as tmp:
            size = int(response.headers.get("Content-Length") or 0) or None
            with Progress(transient=True) as progress, open(tmp, "wb") as out:
                task = progress.add_task("aclImdb_v1.tar.gz", total=size)
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
                    progress.advance(task, len(block))
            digest = sha256_file(tmp)
            if digest != SHA256:  # raised inside atomic_path: the partial file is removed
                raise DataError(
                    f"Downloaded {URL} has sha256 {digest}, not the published {SHA256}; "
                    "retry, or pass a local aclImdb_v1.tar.gz or folder with --path."
                )
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DataError(
            f"Cannot download {URL} ({reason}); pass a local aclImdb_v1.tar.gz or its "
            "extracted folder with --path."
        ) from None
    return target


def _record(split: str, polarity: str, name: str, raw: bytes, where: str) -> tuple:
    match = REVIEW_NAME.fullmatch(name)
    if match is None:
        raise DataError(f"{where} is not named <num>_<rating>.txt like the aclImdb reviews.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{where} is not valid UTF-8 at byte {exc.start}.") from None
    if not text.strip():
        raise DataError(f"{where} is an empty review.")
    number, rating = match.groups()
    return split, LABELS[polarity], int(number), f"{number}_{rating}", text, int(rating)


def _read_folder(path: Path) -> list[tuple]:
    root = path / "aclImdb" if (path / "aclImdb").is_dir() else path
    records = []
    for split in SPLITS:
        for polarity in LABELS:
            folder = root / split / polarity
            if not folder.is_dir():
                raise DataError(f"{folder} is missing; is {path} the extracted aclImdb folder?")
            for file in sorted(folder.iterdir()):
                records.append(_record(split, polarity, file.name, file.read_bytes(), str(file)))
    return records


def _read_tarball(path: Path) -> list[tuple]:
    records = []
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:  # streamed: one pass over the gzip
                match = MEMBER.fullmatch(member.name)
                if match is None or not member.isfile():
                    continue
                handle = archive.extractfile(member)
                raw = handle.read() if handle is not None else b""
                split, polarity, name = match.groups()
                records.append(_record(split, polarity, name, raw, f"{path}:{member.name}"))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise DataError(
            f"{path} is truncated or not a valid tar.gz archive ({one_line(exc)})."
        ) from None
    return records


def _frames(records: list[tuple], path: Path) -> dict[str, pd.DataFrame]:
    columns = ["split", "label", "number", "id", "text", "rating"]
    table = pd.DataFrame(records, columns=columns).sort_values(["split", "label", "number"])
    frames = {}
    for split in SPLITS:
        part = table[table["split"] == split]
        for polarity, label in LABELS.items():
            if not (part["label"] == label).any():
                raise DataError(f"{path} has no aclImdb/{split}/{polarity}/*.txt reviews.")
        frame = part[["id", "text", "label", "rating"]].reset_index(drop=True)
        frames[split] = frame.astype({"label": "int64", "rating": "Int64"})
    return frames
