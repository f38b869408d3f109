"""Text cleaning and word tokenisation shared by every word-level model."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")
# n't stays a token of its own ("didn't" -> "did", "n't"); ! and ? are kept as tokens because
# they carry sentiment; other punctuation is dropped.
_TOKEN = re.compile(r"[a-z0-9]+(?=n't)|n't|[a-z0-9]+(?:'[a-z]+)?|[!?]")


def strip_markup(text: str) -> str:
    """Strip HTML tags (IMDB's `<br />`) and unescape entities; whitespace is left as it is."""
    return html.unescape(_TAG.sub(" ", text))


def clean(text: str) -> str:
    """Strip HTML tags (IMDB's `<br />`), unescape entities, normalise whitespace."""
    # split/join gives the same result as re.sub(r"\s+", " ").strip() (both use str.isspace)
    # and is ~3x faster on IMDB reviews.
    return " ".join(strip_markup(text).split())


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of a cleaned text, negations and !/? kept."""
    return _TOKEN.findall(clean(text).lower().replace("\u2019", "'"))
