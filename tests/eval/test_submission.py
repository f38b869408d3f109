"""`sentibench evaluate`'s CSV reader: errors name the file's real line; sentiment is 0 or 1."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from sentibench.errors import DataError
from sentibench.eval.submission import read_submission, score_submission


def write(tmp_path, text: str, name: str = "pred.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text, line, value",
    [
        ("id,sentiment\n1_1,1\n2_2,0\n3_3,1\n4_4,yes\n", 5, "'yes'"),  # the case
        ("id,sentiment\n1_1,1\n\n\n4_4,2\n", 5, "'2'"),  # blank lines count
        ('id,sentiment,note\n1_1,1,"two\nlines"\n2_2,x,ok\n', 4, "'x'"),  # a quoted newline
        ("id,sentiment\n1_1,True\n", 2, "'True'"),
        ("id,sentiment\n1_1,0\n2_2,False\n", 3, "'False'"),
        ("id,sentiment\n1_1,\n", 2, "''"),
        ("id,sentiment\n1_1,0.5\n", 2, "'0.5'"),
        ("id,sentiment\n1_1,positive\n", 2, "'positive'"),
    ],
)
def test_a_bad_sentiment_names_its_line(tmp_path, text, line, value):
    with pytest.raises(DataError) as caught:
        read_submission(write(tmp_path, text))
    assert f"line {line}: sentiment {value} is not 0 or 1" in str(caught.value)


def test_zero_one_and_their_float_spelling_are_read(tmp_path):
    frame = read_submission(write(tmp_path, 'id,sentiment,prob\n"1_1",1,0.9\n2_2, 0.0 ,0.1\n\n'))
    assert frame["id"].tolist() == ["1_1", "2_2"]
    assert frame["sentiment"].tolist() == [1, 0] and frame["sentiment"].dtype == "int64"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("id,sentiment\n1_1,1\n\n1_1,0\n", "line 4: id '1_1' appears twice (first on line 2)"),
        ("id,sentiment\n1_1,1,extra\n", "line 2 has 3 fields, the header has 2"),
        ("id,sentiment\n,1\n", "line 2 has an empty id"),
        ("id,label\n1_1,1\n", "lacks column(s) sentiment"),
        ("", "is empty"),
    ],
)
def test_other_errors_name_their_line(tmp_path, text, fragment):
    with pytest.raises(DataError) as caught:
        read_submission(write(tmp_path, text))
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_and_bad_utf8_are_one_sentence(tmp_path):
    with pytest.raises(DataError, match="is a folder"):
        read_submission(tmp_path)
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,sentiment\n1_é,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not valid UTF-8"):
        read_submission(path)


def test_score_uses_the_ids_in_any_order(tmp_path):
    test = pd.DataFrame({"id": ["a", "b", "c", "d"], "label": [1, 0, 1, 0]})
    metrics = score_submission(write(tmp_path, "id,sentiment\nd,0\nc,1\nb,1\na,1\n"), test)
    assert metrics["accuracy"] == 0.75 and metrics["n"] == 4


def test_evaluate_cli_reports_the_real_line(tmp_path, tiny_data):
    test = pd.read_json(tiny_data / "test.jsonl", lines=True, dtype={"id": str})
    lines = ["id,sentiment"] + [
        f"{i},{label}" for i, label in zip(test["id"], test["label"], strict=True)
    ]
    lines[4] = lines[4].rsplit(",", 1)[0] + ",yes"
    path = write(tmp_path, "\n".join(lines) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "sentibench.cli", "evaluate", str(path), "--data", str(tiny_data)],
        capture_output=True, text=True, timeout=120, env=os.environ.copy(),
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {path} line 5: sentiment 'yes' is not 0 or 1."
