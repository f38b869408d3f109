"""Batch prediction input and output for `sentibench predict`.

Input: a text, a file of lines, stdin (inference.predict_input), or one column of a CSV or
Parquet table (`--column`). Every text is checked where it is read: an empty one or one that is
not valid UTF-8 is an error naming its line (CSV, files, stdin) or row (Parquet); nothing is
silently dropped, so output row i is always input text i.

Output: CSV or JSONL with `label` (negative|positive) and `prob_positive`, preceded by the
table's `id` column when it has one; written atomically to a file, or to stdout. A run of k > 2
classes writes `label` (the most probable class's name) and one `prob_<name>` per class, in
label-id order.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TextIO

import numpy as np

from sentibench.errors import DataError
from sentibench.inference.api import LABELS, RunModel
from sentibench.inference.predict_input import names_a_file, read_texts
from sentibench.predictor import PROBA_DECIMALS, predicted_ids
from sentibench.runs import atomic_path

Format = Literal["csv", "jsonl"]
ID_COLUMN = "id"
PROGRESS_MIN = 500  # texts; below this a prediction is over before a bar is worth drawing


@dataclass(frozen=True)
class Inputs:
    texts: list[str]
    ids: list[str] | None = None  # the table's `id` column, carried to the output


def read_inputs(source: str, column: str | None = None) -> Inputs:
    """Texts from a CLI argument; `column` selects a CSV/Parquet column of the file `source`."""
    if column is None:
        return Inputs(read_texts(source))
    path = Path(source)
    if not names_a_file(path):
        raise DataError(f"--column needs a CSV or Parquet file; {source} is not a file.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return read_csv_column(path, column)
    if suffix in (".parquet", ".pq"):
        return read_parquet_column(path, column)
    raise DataError(f"{path}: --column reads .csv or .parquet files, not '{suffix or path.name}'.")


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{where} line {line} is not valid UTF-8.") from None


def _missing_column(where: str, column: str, columns: list[str]) -> DataError:
    return DataError(f"{where} has no column '{column}'; its columns: {', '.join(columns)}.")


def read_csv_column(path: Path, column: str) -> Inputs:
    """One column of a CSV file; rows are reported by the line they start on."""
    text = _decode(path.read_bytes(), str(path))
    csv.field_size_limit(2**31 - 1)  # reviews run to tens of thousands of characters
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise DataError(f"{path} is empty; it needs a header row naming the columns.")
    if column not in header:
        raise _missing_column(str(path), column, header)
    at, id_at = header.index(column), header.index(ID_COLUMN) if ID_COLUMN in header else None
    texts, ids = [], []
    line = reader.line_num + 1  # the line the next row starts on
    for row in reader:
        if not any(cell.strip() for cell in row):  # a blank line is no row for csv; say so
            raise DataError(f"{path} line {line} is empty; remove it or give it text.")
        if len(row) != len(header):
            raise DataError(
                f"{path} line {line} has {len(row)} fields, the header has {len(header)}."
            )
        if not row[at].strip():
            raise DataError(f"{path} line {line}: column '{column}' is empty.")
        texts.append(row[at])
        if id_at is not None:
            ids.append(row[id_at])
        line = reader.line_num + 1
    if not texts:
        raise DataError(f"{path} holds no rows to classify.")
    return Inputs(texts, ids if id_at is not None else None)


def read_parquet_column(path: Path, column: str) -> Inputs:
    """One column of a Parquet file; rows are numbered from 1 as in the file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path} is not a readable Parquet file ({exc}).") from None
    if column not in schema.names:
        raise _missing_column(str(path), column, schema.names)
    wanted = [column] + ([ID_COLUMN] if ID_COLUMN in schema.names and column != ID_COLUMN else [])
    table = pq.read_table(path, columns=wanted)
    field = table.schema.field(column)
    if not (pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
            or pa.types.is_binary(field.type) or pa.types.is_large_binary(field.type)):  # fmt: skip
        raise DataError(f"{path} column '{column}' holds {field.type}, not text.")
    # Read raw bytes so that invalid UTF-8 is reported by row, not by a pyarrow exception.
    texts = []
    for row, raw in enumerate(table.column(column).cast(pa.large_binary()).to_pylist(), 1):
        if raw is None:
            raise DataError(f"{path} row {row}: column '{column}' is null.")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{path} row {row}: column '{column}' is not valid UTF-8.") from None
        if not text.strip():
            raise DataError(f"{path} row {row}: column '{column}' is empty.")
        texts.append(text)
    if not texts:
        raise DataError(f"{path} holds no rows to classify.")
    ids = None
    if ID_COLUMN in wanted[1:]:
        ids = ["" if v is None else str(v) for v in table.column(ID_COLUMN).to_pylist()]
    return Inputs(texts, ids)


def predict_with_progress(model: RunModel, texts: list[str], batch_size: int = 256) -> np.ndarray:
    """predict_proba (k > 2 classes: predict_class_proba, (n, k)) with a progress bar on
    stderr for long inputs."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(
        *columns,
        console=Console(stderr=True),
        transient=True,
        disable=len(texts) < PROGRESS_MIN,
    ) as bar:
        task = bar.add_task("classifying", total=len(texts))
        score = model.predict_proba if len(model.label_names) == 2 else model.predict_class_proba
        return score(texts, batch_size, lambda n: bar.advance(task, n))


def output_format(output: Path | None, fmt: str | None) -> Format:
    """The explicit --format, else the output file's suffix (.jsonl), else CSV."""
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise DataError(f"--format must be csv or jsonl, got '{fmt}'.")
        return fmt  # type: ignore[return-value]
    if output is not None and output.suffix.lower() in (".jsonl", ".ndjson"):
        return "jsonl"
    return "csv"


def check_output(output: Path | None) -> None:
    """Refuse an --output that can never be written (a folder) before any work is done."""
    if output is not None and Path(output).is_dir():
        example = Path(output) / "predictions.csv"
        raise DataError(f"--output {output} is a folder; pass a file path such as {example}.")


def probability_columns(proba: np.ndarray, label_names: Sequence[str]) -> list[str]:
    """prob_positive for P(positive) per text (n,); one prob_<name> per class for (n, k)."""
    if np.ndim(proba) == 1:
        return ["prob_positive"]
    return [f"prob_{name}" for name in label_names]


def result_rows(
    inputs: Inputs, proba: np.ndarray, label_names: Sequence[str] = LABELS
) -> Iterator[dict[str, object]]:
    """`proba`: P(positive) per text (n,), or k class probabilities per text (n, k)."""
    columns = probability_columns(proba, label_names)
    labels = predicted_ids(proba)
    for index, p in enumerate(proba):
        row: dict[str, object] = {} if inputs.ids is None else {ID_COLUMN: inputs.ids[index]}
        row["label"] = label_names[int(labels[index])]
        if np.ndim(p) == 0:
            row["prob_positive"] = round(float(p), PROBA_DECIMALS)  # as in predictions.csv
        else:
            row.update(
                (name, round(float(q), PROBA_DECIMALS)) for name, q in zip(columns, p, strict=True)
            )
        yield row


def write_results(
    inputs: Inputs,
    proba: np.ndarray,
    output: Path | None = None,
    fmt: Format = "csv",
    label_names: Sequence[str] = LABELS,
) -> None:
    """Write one row per input text to `output` (atomically) or to stdout; `proba` is P(positive)
    per text (n,), or (n, k) class probabilities in `label_names` order."""
    if np.ndim(proba) == 2 and np.shape(proba)[1] != len(label_names):
        width = np.shape(proba)[1]
        raise ValueError(f"{width} probabilities per text for {len(label_names)} label names")
    if output is None:
        _write(sys.stdout, inputs, proba, fmt, label_names)
        sys.stdout.flush()
        return
    check_output(output)
    try:
        with atomic_path(Path(output)) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
            _write(out, inputs, proba, fmt, label_names)
    except OSError as exc:  # a read-only folder, a full disk: nothing is left half-written
        raise DataError(
            f"Cannot write {output} ({exc.strerror or exc}); pass a path you can write to."
        ) from None


def _write(
    handle: TextIO, inputs: Inputs, proba: np.ndarray, fmt: Format, label_names: Sequence[str]
) -> None:
    rows = result_rows(inputs, proba, label_names)
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    columns = probability_columns(proba, label_names)
    fields = ([ID_COLUMN] if inputs.ids is not None else []) + ["label", *columns]
    writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
