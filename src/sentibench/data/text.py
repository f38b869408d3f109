"""Text cleaning and word tokenisation shared by every word-level model."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
# n't stays a token of its own ("didn't" -> "did", "n't"); ! and ? are kept as tokens because
# they carry sentiment; other punctuation is dropped.
_TOKEN = re.compile(r"[a-z0-9]+(?=n't)|n't|[a-z0-9]+(?:'[a-z]+)?|[!?]")


def clean(text: str) -> str:
    """Strip HTML tags (IMDB's `<br />`), unescape entities, normalise whitespace."""
    text = html.unescape(_TAG.sub(" ", text))
    return _SPACE.sub(" ", text).strip()


def tokenize(text: str) -> list[str]:
    """Lowercased word tokens of a cleaned text, negations and !/? kept."""
    return _TOKEN.findall(clean(text).lower().replace("\u2019", "'"))
