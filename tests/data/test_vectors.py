"""Word vectors: every file format, coverage, random (not zero) rows for missing words,
the cache, and clear errors for missing or malformed files."""

from __future__ import annotations

import gzip
import struct
import zipfile

import numpy as np
import pytest

from sentibench.data import vectors as vectors_module
from sentibench.data.vectors import align, cache_path
from sentibench.data.vocab import PAD_INDEX, UNK_INDEX, Vocabulary
from sentibench.errors import DataError

VECTORS = {
    "good": [0.5, 0.25, -1.0],
    "bad": [-0.5, 1.5, 2.0],
    "film": [1.0, 0.0, 0.125],
    "Paris": [3.0, 3.0, 3.0],  # cased, as in glove.840B: "paris" should fall back to it
    "unused": [9.0, 9.0, 9.0],
}
GLOVE_TEXT = "".join(f"{w} {' '.join(map(str, v))}\n" for w, v in VECTORS.items())


@pytest.fixture
def vocab() -> Vocabulary:
    # counts: good 3, film 2, bad 1, paris 1, plot 1 -> 8 tokens, 7 of them covered
    return Vocabulary.from_texts(["good good film", "good bad film paris plot"])


def write_glove(folder, kind: str):
    path = folder / {"txt": "v.txt", "gz": "v.txt.gz", "zip": "v.zip"}[kind]
    if kind == "txt":
        path.write_text(GLOVE_TEXT)
    elif kind == "gz":
        with gzip.open(path, "wt") as handle:
            handle.write(GLOVE_TEXT)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("glove.tiny.3d.txt", GLOVE_TEXT)
    return path


def write_word2vec_binary(path, entries=VECTORS, truncate_bytes=0):
    data = f"{len(entries)} 3\n".encode()
    for word, vector in entries.items():
        data += word.encode() + b" " + struct.pack("<3f", *vector) + b"\n"
    path.write_bytes(data[: len(data) - truncate_bytes])
    return path


def assert_aligned(aligned, vocab):
    for word in ("good", "bad", "film"):
        assert np.allclose(aligned.matrix[vocab.stoi[word]], VECTORS[word])
    assert np.allclose(aligned.matrix[vocab.stoi["paris"]], VECTORS["Paris"])
    assert not aligned.found[vocab.stoi["plot"]]
    assert aligned.matrix.dtype == np.float32 and aligned.matrix.shape == (len(vocab), 3)


@pytest.mark.parametrize("kind", ["txt", "gz", "zip"])
def test_glove_text_formats(tmp_path, vocab, kind):
    aligned = align(vocab, str(write_glove(tmp_path, kind)))
    assert_aligned(aligned, vocab)
    assert aligned.vocab_coverage == pytest.approx(4 / 5)  # plot is missing
    assert aligned.token_coverage == pytest.approx(7 / 8)


def test_word2vec_binary_and_text(tmp_path, vocab):
    assert_aligned(align(vocab, str(write_word2vec_binary(tmp_path / "v.bin"))), vocab)
    text = tmp_path / "w2v.txt"
    text.write_text(f"{len(VECTORS)} 3\n" + GLOVE_TEXT)  # word2vec text: a header line first
    assert_aligned(align(vocab, str(text)), vocab)


def test_missing_words_get_distinct_small_random_vectors_and_pad_stays_zero(tmp_path, vocab):
    path = str(write_glove(tmp_path, "txt"))
    aligned = align(vocab, path, seed=3)
    missing = aligned.matrix[[vocab.stoi["plot"], UNK_INDEX]]
    assert np.all(np.abs(missing).sum(axis=1) > 0)  # not zeros, as the seed had
    assert not np.allclose(missing[0], missing[1])
    assert np.all(np.abs(missing) < 10 * np.abs(aligned.matrix[aligned.found]).max())
    assert not aligned.matrix[PAD_INDEX].any()
    assert np.array_equal(align(vocab, path, seed=3).matrix, aligned.matrix)  # seeded
    assert not np.array_equal(align(vocab, path, seed=4).matrix[UNK_INDEX], missing[1])


def test_no_vectors_gives_random_rows_of_the_asked_size(vocab):
    aligned = align(vocab, "none", dim=7)
    assert aligned.matrix.shape == (len(vocab), 7)
    assert aligned.vocab_coverage == 0.0 and aligned.token_coverage == 0.0
    assert not aligned.matrix[PAD_INDEX].any() and aligned.matrix[UNK_INDEX].any()


def test_offline_glove_package():
    vocab = Vocabulary.from_texts(["the movie was n't good !", "zzqxjunkword"])
    aligned = align(vocab, "glove-6b-50d")
    assert aligned.matrix.shape == (len(vocab), 50)
    assert aligned.found[vocab.stoi["movie"]] and aligned.found[vocab.stoi["n't"]]
    assert not aligned.found[vocab.stoi["zzqxjunkword"]]
    assert 0.8 < aligned.vocab_coverage < 1.0


def test_cache_is_reused_and_keyed_by_vocabulary(tmp_path, vocab, monkeypatch):
    path = str(write_glove(tmp_path, "txt"))
    first = align(vocab, path)
    assert cache_path(vocab, path).is_file()

    def no_reading(*args):
        raise AssertionError("the vectors file was read again")

    monkeypatch.setattr(vectors_module, "_lookup", no_reading)
    assert np.array_equal(align(vocab, path).matrix, first.matrix)
    other = Vocabulary.from_texts(["good film"])
    assert cache_path(other, path) != cache_path(vocab, path)
    with pytest.raises(AssertionError, match="read again"):
        align(other, path)


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("good 0.5 0.25 -1.0\nbad -0.5 oops 2.0\n", 2, "not a number"),
        ("good 0.5 0.25 -1.0\nfilm 1.0\n", 2, "fewer than 3 values"),
        ("good 0.5 0.25 -1.0\nfilm 1.0 0.0 0.125\nunusedword 1.0\n", 3, "fewer than 3 values"),
    ],
)
def test_malformed_text_file_names_file_and_line(tmp_path, vocab, content, line, problem):
    path = tmp_path / "broken.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=rf"broken\.txt line {line} .*{problem}"):
        align(vocab, str(path))


def test_missing_truncated_and_ambiguous_files(tmp_path, vocab):
    with pytest.raises(DataError, match=r"nothere\.txt does not exist"):
        align(vocab, str(tmp_path / "nothere.txt"))
    truncated = write_word2vec_binary(tmp_path / "cut.bin", truncate_bytes=5)
    with pytest.raises(DataError, match=r"cut\.bin ends inside record 5 of 5"):
        align(vocab, str(truncated))
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("a.txt", GLOVE_TEXT)
        handle.writestr("b.txt", GLOVE_TEXT)
    with pytest.raises(DataError, match="holds 2 files"):
        align(vocab, str(archive))
    (tmp_path / "bad.gz").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match=r"bad\.gz is corrupt"):
        align(vocab, str(tmp_path / "bad.gz"))


def test_random_bytes_are_refused_naming_the_file(tmp_path, vocab):
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match=r"garbage\.txt"):
        align(vocab, str(garbage), min_coverage=0.05)


@pytest.mark.parametrize(
    ("content", "line", "problem"),
    [
        ("good 0.5\nbad 1.0\n", 1, "1 value.s. per word; word vectors have at least 2"),
        ("2 1\ngood 0.5\n", 1, "at least 2"),
        ("good 0.5 0.25 -1.0\nfilm 1.0 0.0 0.125 7.0\n", 2, "more than the 3 values"),
    ],
)
def test_inconsistent_or_one_dimensional_vectors_are_refused(tmp_path, vocab, content, line,
                                                             problem):  # fmt: skip
    path = tmp_path / "odd.txt"
    path.write_text(content)
    with pytest.raises(DataError, match=rf"odd\.txt line {line} .*{problem}"):
        align(vocab, str(path))


def test_vectors_covering_too_few_training_tokens_are_refused(tmp_path, vocab):
    path = tmp_path / "other-language.txt"
    path.write_text("plot 0.5 0.25 -1.0\nzzz 1.0 2.0 3.0\n")  # 1 of 8 training tokens: 12.5%
    align(vocab, str(path), min_coverage=0.05)
    with pytest.raises(DataError, match=r"other-language\.txt has vectors for only 12\.5% .*"
                       r"at least 20% needed"):  # fmt: skip
        align(vocab, str(path), min_coverage=0.2)
    align(vocab, "none", min_coverage=0.9)  # no pretrained vectors: nothing to cover
