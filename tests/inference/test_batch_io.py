"""`sentibench predict`: every input kind, both output formats, and bad rows named by line/row."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from sentibench.cli import app
from sentibench.errors import DataError
from sentibench.inference.batch_io import output_format, read_inputs


def invoke(*args: str, stdin: bytes | None = None):
    return CliRunner().invoke(app, list(args), input=stdin)


def test_csv_column_keeps_ids_and_multiline_reviews(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text('id,text\nr1,"great\nand excellent"\nr2,worst film\n', encoding="utf-8")
    inputs = read_inputs(str(path), "text")
    assert inputs.texts == ["great\nand excellent", "worst film"] and inputs.ids == ["r1", "r2"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'id,text\nr1,"two\nlines"\nr2,\n', "line 4: column 'text' is empty"),
        (b"id,text\nr1,fine\n\nr2,fine\n", "line 3 is empty"),
        (b"id,text\nr1,fine\nr2,caf\xe9\n", "line 3 is not valid UTF-8"),
        (b"id,text\nr1,fine,extra\n", "line 2 has 3 fields"),
        (b"id,review\nr1,fine\n", "no column 'text'; its columns: id, review"),
        (b"", "is empty; it needs a header"),
    ],
)
def test_bad_csv_rows_are_named_by_line(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message):
        read_inputs(str(path), "text")


def test_parquet_column_and_its_bad_rows(tmp_path):
    good = tmp_path / "good.parquet"
    pd.DataFrame({"id": [7, 8], "review": ["great", "bad"]}).to_parquet(good)
    inputs = read_inputs(str(good), "review")
    assert inputs.texts == ["great", "bad"] and inputs.ids == ["7", "8"]
    for values, message in (
        (["fine", None], "row 2: column 'review' is null"),
        (["fine", "  "], "row 2: column 'review' is empty"),
        ([b"fine", b"caf\xe9"], "row 2: column 'review' is not valid UTF-8"),
    ):
        path = tmp_path / "bad.parquet"
        pq.write_table(pa.table({"review": values}), path)
        with pytest.raises(DataError, match=message):
            read_inputs(str(path), "review")
    with pytest.raises(DataError, match="not text"):
        pq.write_table(pa.table({"review": [1, 2]}), path)
        read_inputs(str(path), "review")


def test_column_needs_a_table_file(tmp_path):
    with pytest.raises(DataError, match="not a file"):
        read_inputs("a review", "text")
    (tmp_path / "x.txt").write_text("hi\n")
    with pytest.raises(DataError, match="reads .csv or .parquet"):
        read_inputs(str(tmp_path / "x.txt"), "text")


def test_output_format_from_flag_or_suffix(tmp_path):
    assert output_format(None, None) == "csv"
    assert output_format(tmp_path / "o.jsonl", None) == "jsonl"
    assert output_format(tmp_path / "o.jsonl", "csv") == "csv"
    with pytest.raises(DataError, match="csv or jsonl"):
        output_format(None, "xml")


def test_cli_predicts_a_text_stdin_and_a_file(keyword_run, tmp_path):
    result = invoke("predict", "--run", str(keyword_run), "a great film")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "label,prob_positive"
    assert result.stdout.splitlines()[1].startswith("positive,")
    result = invoke("predict", "--run", str(keyword_run), "-", stdin=b"great\nthe worst\n")
    assert [r.split(",")[0] for r in result.stdout.splitlines()[1:]] == ["positive", "negative"]
    lines = tmp_path / "lines.txt"
    lines.write_bytes(b"great\n\nworst\n")
    result = invoke("predict", "--run", str(keyword_run), str(lines))
    assert isinstance(result.exception, DataError) and "line 2 is empty" in str(result.exception)


def test_cli_writes_jsonl_for_a_csv_column(keyword_run, tmp_path):
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": ["a", "b"], "text": ["excellent!", "bad, worst"]}).to_csv(source)
    out = tmp_path / "out" / "predictions.jsonl"
    result = invoke(
        "predict", "--run", str(keyword_run), str(source), "--column", "text", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["label"]) for r in rows] == [("a", "positive"), ("b", "negative")]
    assert 0.5 < rows[0]["prob_positive"] <= 1 and not list(out.parent.glob(".*tmp"))
    result = invoke(
        "predict", "--run", str(keyword_run), str(source), "--column", "text", "--format", "csv"
    )
    assert result.stdout.splitlines()[0] == "id,label,prob_positive"
