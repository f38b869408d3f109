"""Class labels as a user's file holds them -> label ids 0..k-1 and the class names, for
`data add`.

Names (strings) map to ids by --labels, whose order is the id, or else sorted. Whole numbers
keep their order: with --labels they are the ids themselves (0..k-1, named by --labels);
without it the distinct numbers sorted are the ids and their names the numbers as written
("0", "1", "2"; star ratings 1..5 become ids 0..4 named "1".."5").
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentibench.errors import ConfigError, DataError

WHOLE = re.compile(r"[+-]?\d+(\.0*)?")  # "2" and "2.0" (a float column written as text)
# The manifest counts each split as {"n": rows, <class>: rows, ...} (mean_words too, for a
# fetched set): a class of one of these names would overwrite a count.
COUNT_KEYS = ("n", "mean_words")


def parse_label_names(text: str | None) -> tuple[str, ...] | None:
    """--labels negative,neutral,positive -> the names in id order (None: not given)."""
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names) or len(set(names)) != len(names) or len(names) < 2:
        raise ConfigError(
            f"--labels {text!r}: give two or more distinct, non-empty names separated by "
            "commas; their order is the label id."
        )
    reserved = _reserved_reason(names)
    if reserved:
        raise ConfigError(f"--labels {text!r}: {reserved}; choose another name.")
    return names


def _reserved_reason(names: Sequence[str]) -> str | None:
    """Why the first class name that is also a manifest count key cannot be one (None: none is)."""
    for name in names:
        if name in COUNT_KEYS:
            counts = ", ".join(COUNT_KEYS)
            return f"the class name {name!r} is reserved for the manifest's counts ({counts})"
    return None


def encode_labels(
    columns: Sequence[tuple[str, pd.Series]], column: str, given: tuple[str, ...] | None
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    """Label ids for each (where, raw labels) and the class names they index. A missing label,
    or one that --labels does not name, is a DataError naming where, row and column."""
    values = [(where, _present(series, where, column)) for where, series in columns]
    numbers = [[_whole(v) for v in found] for _, found in values]
    if all(n is not None for ns in numbers for n in ns):
        ids, names = _numeric([(w, ns) for (w, _), ns in zip(values, numbers, strict=True)], given)
    else:
        texts = [(where, [str(v).strip() for v in found]) for where, found in values]
        ids, names = _named(texts, column, given)
    reserved = _reserved_reason(names)  # from the file: --labels' are refused when parsed
    if reserved:
        raise DataError(f"Column {column!r}: {reserved}; rename that class in the file.")
    return ids, names


def _present(series: pd.Series, where: str, column: str) -> list[object]:
    found = series.tolist()
    for row, value in enumerate(found):
        if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
            missing = True
        else:
            missing = isinstance(value, str) and not value.strip()
        if missing:
            raise DataError(f"{where} row {row + 1} has no label in column {column!r}.")
    return found


def _whole(value: object) -> int | None:
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return int(value) if float(value).is_integer() else None
    if isinstance(value, str) and WHOLE.fullmatch(value.strip()):
        return int(float(value))
    return None


def _numeric(
    columns: list[tuple[str, list]], given: tuple[str, ...] | None
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    if given is not None:
        k = len(given)
        for where, found in columns:
            for row, number in enumerate(found):
                if not 0 <= number < k:
                    raise DataError(
                        f"{where} row {row + 1} has label {number}, outside --labels: its {k} "
                        f"names take the label ids 0 to {k - 1}."
                    )
        return [np.asarray(found, dtype=np.int64) for _, found in columns], given
    distinct = sorted({n for _, found in columns for n in found})
    index = {number: i for i, number in enumerate(distinct)}
    ids = [np.asarray([index[n] for n in found], dtype=np.int64) for _, found in columns]
    return ids, tuple(str(n) for n in distinct)


def _named(
    columns: list[tuple[str, list[str]]], column: str, given: tuple[str, ...] | None
) -> tuple[list[np.ndarray], tuple[str, ...]]:
    names = given or tuple(sorted({v for _, found in columns for v in found}))
    index = {name: i for i, name in enumerate(names)}
    ids = []
    for where, found in columns:
        for row, value in enumerate(found):
            if value not in index:
                raise DataError(
                    f"{where} row {row + 1} has label {value!r} in column {column!r}, which is "
                    f"not one of --labels {','.join(names)}."
                )
        ids.append(np.asarray([index[v] for v in found], dtype=np.int64))
    return ids, names
