"""A user's table file (CSV, TSV, JSONL or Parquet) read as it is, for `data add`.

Text formats are decoded with the given encoding first, so a byte that is not valid in it is
one error naming the file and the line. CSV and TSV cells are read as strings (nothing is
guessed to be a number or missing); JSONL keeps each value's JSON type. Rows are numbered from
1 without the header: "row 3" is the third record.
"""

from __future__ import annotations

import codecs
import io
import json
from pathlib import Path

import pandas as pd

from sentibench.errors import ConfigError, DataError, one_line

FORMATS = ("csv", "tsv", "jsonl", "parquet")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}


def table_format(path: Path, given: str | None) -> str:
    """--format, else the one the file's suffix names."""
    if given is not None:
        if given not in FORMATS:
            raise ConfigError(f"--format {given!r} is not one of {', '.join(FORMATS)}.")
        return given
    found = SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ConfigError(
            f"{path}: cannot tell the format from the suffix {path.suffix!r}; pass "
            f"--format ({', '.join(FORMATS)})."
        )
    return found


def check_encoding(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"--encoding {encoding!r} is not an encoding Python knows.") from None


def read_table(path: Path, fmt: str, encoding: str = "utf-8") -> pd.DataFrame:
    """The rows of `path` in format `fmt` (see FORMATS); an empty or unreadable file, or one
    with no rows, is a DataError."""
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    if fmt == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for a file that is not Parquet
            raise DataError(f"{path} cannot be read as Parquet ({one_line(exc)}).") from None
    else:
        text = decode(path, encoding)
        if not text.strip():
            raise DataError(f"{path} is empty.")
        frame = _read_jsonl(path, text) if fmt == "jsonl" else _read_delimited(path, text, fmt)
    if len(frame) == 0:
        raise DataError(f"{path} has no rows.")
    return frame.reset_index(drop=True)


def decode(path: Path, encoding: str) -> str:
    """The file's text; a byte sequence invalid in `encoding` names its line."""
    raw = path.read_bytes()
    try:
        text = raw.decode(check_encoding(encoding))
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise DataError(
            f"{path} line {line} is not valid {encoding} (byte 0x{bad}); pass the file's "
            "encoding with --encoding, e.g. --encoding latin-1."
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark is not part of the first column


def _read_delimited(path: Path, text: str, fmt: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            io.StringIO(text),
            sep="\t" if fmt == "tsv" else ",",
            dtype=str,
            keep_default_na=False,  # "NA", "null" and "" are texts (an empty one is caught later)
            skip_blank_lines=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise DataError(f"{path} cannot be read as {fmt.upper()} ({one_line(exc)}).") from None


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    rows = []
    # "\n" only: a raw U+2028 inside a JSON string is not a line break
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise DataError(f"{path} line {number} is not JSON ({one_line(exc)}).") from None
        if not isinstance(row, dict):
            raise DataError(f"{path} line {number} is not a JSON object ({{...}}).")
        rows.append(row)
    return pd.DataFrame(rows)
