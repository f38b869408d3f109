"""Property-based: what `sentibench predict` reads (a text, a file of lines, stdin, a CSV or
Parquet column) gives texts or one sentence for any generated input (tests/property_inputs.py)."""

from __future__ import annotations

import contextlib
import csv
import io
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from property_inputs import (
    BOUNDED,
    check_one_sentence_or_success,
    mutated,
    nasty_text,
    private_temp,
    raw_bytes,
    scratch,
)

from sentibench.errors import DataError
from sentibench.inference.batch_io import read_inputs

long_texts = st.integers(200, 5000).map(lambda n: "a wonderful film " * (n // 17))
lines_files = st.one_of(
    mutated(st.lists(nasty_text, max_size=6).map(lambda ls: "\n".join(ls).encode("utf-8"))),
    raw_bytes,
)
columns = st.sampled_from(["review", "review", "review", "id", ""]) | nasty_text
reviews = nasty_text.filter(str.strip)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@st.composite
def well_formed_csv(draw) -> bytes:
    header = draw(st.sampled_from([["review"], ["id", "review"], ["review", "id", "x"]]))
    rows = [
        [draw(reviews) if name == "review" else draw(nasty_text) for name in header]
        for _ in range(draw(st.integers(1, 4)))
    ]
    return csv_bytes(header, rows)


csv_files = st.one_of(
    mutated(well_formed_csv()),
    mutated(
        st.builds(
            csv_bytes,
            st.lists(st.sampled_from(["id", "review", "x"]) | nasty_text, max_size=3),
            st.lists(st.lists(nasty_text, max_size=3), max_size=5),
        )
    ),
    raw_bytes,
)
parquet_cells = st.one_of(st.none(), nasty_text, st.binary(max_size=8), st.integers(-5, 5))


@st.composite
def parquet_files(draw) -> bytes:
    names = draw(st.lists(st.sampled_from(["id", "review", "x"]), min_size=1, unique=True))
    length = draw(st.integers(0, 4))
    names = names if "review" in names or draw(st.booleans()) else [*names, "review"]
    table = {}
    for name in names:
        kind = draw(
            st.sampled_from(
                [reviews, reviews, st.none() | nasty_text, st.binary(max_size=8), st.integers()]
            )
        )
        table[name] = draw(st.lists(kind, min_size=length, max_size=length))
    buffer = io.BytesIO()
    try:
        pq.write_table(pa.table(table), buffer)
    except (pa.ArrowException, OverflowError):
        return draw(raw_bytes)
    data = buffer.getvalue()
    return data[: draw(st.integers(0, len(data)))] if draw(st.booleans()) else data


@BOUNDED
@given(text=st.one_of(nasty_text, long_texts, st.just("-")), stdin=raw_bytes)
def test_a_text_argument_or_stdin(tmp_path, monkeypatch, isolated_home, text, stdin):
    temp = private_temp(tmp_path, monkeypatch)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    with scratch() as folder, contextlib.chdir(folder):  # a text never names an existing file
        check_one_sentence_or_success(
            "predict text or stdin", lambda: read_inputs(text), folder, isolated_home, temp
        )


@BOUNDED
@given(
    kind=st.sampled_from(["lines", "csv", "parquet"]),
    lines=lines_files,
    table=csv_files,
    parquet=parquet_files(),
    column=columns,
)
def test_a_file(tmp_path, monkeypatch, isolated_home, kind, lines, table, parquet, column):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        if kind == "lines":
            path, wanted = folder / "reviews.txt", None
            path.write_bytes(lines)
        elif kind == "csv":
            path, wanted = folder / "reviews.csv", column
            path.write_bytes(table)
        else:
            path, wanted = folder / "reviews.parquet", column
            path.write_bytes(parquet)
        inputs = check_one_sentence_or_success(
            f"predict {kind} file", lambda: read_inputs(str(path), wanted), folder, temp
        )
    if inputs is not None:
        assert inputs.texts and all(text.strip() for text in inputs.texts)
        assert inputs.ids is None or len(inputs.ids) == len(inputs.texts)


def test_a_review_longer_than_a_file_name_is_a_text():
    """Found by the search above: stat() of a 300-character argument raised ENAMETOOLONG."""
    review = "A wonderful film. " * 20
    assert read_inputs(review).texts == [review]
    with pytest.raises(DataError, match="is not a file"):
        read_inputs(review, "review")
