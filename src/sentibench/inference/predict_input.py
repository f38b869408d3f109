"""Texts to classify from a CLI argument: the text itself, a file of lines, or stdin."""

from __future__ import annotations

import sys
from pathlib import Path

from sentibench.errors import DataError


def split_lines(raw: bytes, where: str) -> list[str]:
    """Decode line by line so a bad byte or an empty line is reported with its line number."""
    texts = []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise DataError(f"{where} line {number} is not valid UTF-8.") from None
        if not text:
            raise DataError(f"{where} line {number} is empty; remove it or give it text.")
        texts.append(text)
    if not texts:
        raise DataError(f"{where} holds no text to classify.")
    return texts


def read_texts(source: str) -> list[str]:
    if source == "-":
        return split_lines(sys.stdin.buffer.read(), "stdin")
    path = Path(source)
    if names_a_file(path):
        return split_lines(path.read_bytes(), str(path))
    if not source.strip():
        raise DataError("The text to classify is empty.")
    return [source]


def names_a_file(path: Path) -> bool:
    """Path.is_file, False for a text no file can be named (a review longer than a file name:
    stat raises ENAMETOOLONG, which pathlib does not swallow)."""
    try:
        return path.is_file()
    except OSError:
        return False
