"""Property-based: `sentibench evaluate`'s CSV reader and scorer turn any generated file into
metrics or one sentence, and a well-formed submission always scores (tests/property_inputs.py)."""

from __future__ import annotations

import csv
import io

import pandas as pd
from hypothesis import given
from hypothesis import strategies as st
from property_inputs import (
    BOUNDED,
    check_one_sentence_or_success,
    mutated,
    nasty_text,
    private_temp,
    raw_bytes,
    review_ids,
    scratch,
)

from sentibench.eval.submission import read_submission, score_submission

TEST = pd.DataFrame({"id": ["1_1", "2_2", "3_9", "4_10"], "label": [0, 0, 1, 1]})
cells = st.one_of(
    st.sampled_from(["0", "1", " 1", "1.0", "True", "false", "yes", "", '"1_1"']),
    st.sampled_from(TEST["id"].tolist()),
    review_ids,
    nasty_text,
)
headers = st.one_of(
    st.just(["id", "sentiment"]),
    st.just(["id", "sentiment", "prob_positive"]),
    st.just(["sentiment", "id"]),
    st.lists(st.one_of(st.sampled_from(["id", "sentiment", " id"]), nasty_text), max_size=4),
)


def to_csv(header: list[str], rows: list[list[str]], quoting: int) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=quoting, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


@st.composite
def well_formed(draw) -> bytes:
    """Every test id once, in any order, with a 0/1 sentiment (maybe an extra column)."""
    ids = draw(st.permutations(TEST["id"].tolist()))
    extra = draw(st.booleans())
    header = ["id", "sentiment"] + (["prob_positive"] if extra else [])
    rows = [
        [i, draw(st.sampled_from(["0", "1", "1.0", "0.0"]))] + (["0.5"] if extra else [])
        for i in ids
    ]
    return to_csv(header, rows, draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL])))


submissions = st.one_of(
    mutated(well_formed()),
    st.builds(
        to_csv,
        headers,
        st.lists(st.lists(cells, min_size=0, max_size=4), max_size=6),
        st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    ),
    nasty_text.map(lambda t: t.encode("utf-8")),
    raw_bytes,
)


@BOUNDED
@given(data=submissions)
def test_any_submission_scores_or_is_one_sentence(tmp_path, monkeypatch, isolated_home, data):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        path = folder / "predictions.csv"
        path.write_bytes(data)
        check_one_sentence_or_success(
            "evaluate csv", lambda: score_submission(path, TEST), folder, isolated_home, temp
        )


@BOUNDED
@given(data=well_formed())
def test_a_well_formed_submission_always_scores(tmp_path, monkeypatch, isolated_home, data):
    temp = private_temp(tmp_path, monkeypatch)
    with scratch() as folder:
        path = folder / "predictions.csv"
        path.write_bytes(data)
        metrics = check_one_sentence_or_success(
            "evaluate csv, well formed", lambda: score_submission(path, TEST), folder, temp
        )
        frame = read_submission(path)
    assert metrics is not None and metrics["n"] == len(TEST)
    assert set(frame["sentiment"]) <= {0, 1} and sorted(frame["id"]) == sorted(TEST["id"])
