"""Word n-gram count matrices for the linear baselines, built without a Python loop per token.

scikit-learn's vectorizers build every n-gram as a Python string: TfidfVectorizer took 11.5 s
for the 1-2-grams of 22.5k IMDB reviews on this machine. Here the same kind of sparse count
matrix comes from a few passes that run in C (about 3x faster):

1. `tokenize_corpus`: clean each review (`sentibench.data.text.strip_markup`), join the corpus
   with a boundary token, lowercase, and split it at once with bytes.translate + split; one
   pandas hash pass (`pd.factorize`) turns the ~6M tokens into integer codes;
2. `NgramCounter`: map codes to ids of the training vocabulary, encode each n-gram of ids
   (a, b, c) as the integer (a*V + b)*V + c with numpy, and look those up per n-gram order in
   a pandas Index (hash table) of the n-grams kept at fit time (document frequency >= min_df).

Tokens are lowercase runs of letters, digits and inner apostrophes; "n't" is split off
("didn't" -> "did", "n't") and "!"/"?" are tokens, as in `sentibench.data.text.tokenize`
(which gives the same tokens for ASCII text; here accented letters also stay inside words).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from sentibench.data.text import strip_markup
from sentibench.errors import SentibenchError

BOUNDARY = b"\x01"  # token between two reviews; stripped from the texts themselves
_MAX_CODE = 2**63 - 1  # n-gram codes are int64


class _NonAsciiTable(dict):
    """What each character of the rare non-ASCII reviews becomes: letters stay, other
    characters a space, apostrophe look-alikes (’ ‘ ´ and cp1252's \\x91 \\x92) "'"."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        value = char if char.isalnum() else " "
        self[code] = value
        return value


_ASCII = frozenset(map(chr, range(128)))
_NON_ASCII = _NonAsciiTable({ord(c): "'" for c in "\u2019\u2018\u00b4\x91\x92"})
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789'!?" + BOUNDARY + bytes(range(128, 256))
# bytes.translate table: lowercases ASCII, and every byte not kept becomes a space (non-ASCII
# bytes are parts of lowercase letters by now: UTF-8 sequences stay whole, tokens decode).
_BYTE_TABLE = bytes(b if b in _KEEP else ord(" ") for b in bytes(range(256)).lower())


def _prepare(text: str) -> str:
    text = strip_markup(text).replace("\x01", " ")
    if text.isascii():
        return text
    text = text.lower()
    for char in set(text) - _ASCII:  # a few distinct characters: replace beats translate
        text = text.replace(char, _NON_ASCII[ord(char)])
    return text


@dataclass(frozen=True)
class TokenizedCorpus:
    """A corpus as token codes: `types[codes[i]]` is token i; `review[i]` its review index."""

    codes: np.ndarray  # int64, one per token (boundary tokens included)
    types: np.ndarray  # object array of distinct tokens (bytes)
    review: np.ndarray  # int64, the review each token belongs to
    n_reviews: int

    @staticmethod
    def concat(first: TokenizedCorpus, second: TokenizedCorpus) -> TokenizedCorpus:
        """One corpus of the reviews of `first` followed by those of `second`."""
        types = pd.Index([*first.types, *second.types, BOUNDARY], dtype=object).unique()
        second_codes = types.get_indexer(second.types)[second.codes]
        boundary = [types.get_loc(BOUNDARY)]  # so that no n-gram spans the join
        return TokenizedCorpus(
            codes=np.concatenate([first.codes, boundary, second_codes]),
            types=np.asarray(types, dtype=object),
            review=np.concatenate(
                [first.review, [first.n_reviews], second.review + first.n_reviews]
            ),
            n_reviews=first.n_reviews + second.n_reviews,
        )


def tokenize_corpus(texts: Sequence[str]) -> TokenizedCorpus:
    """Tokenise all `texts` in a few whole-corpus passes (see the module docstring)."""
    separator = " " + BOUNDARY.decode() + " "
    data = separator.join([_prepare(t) for t in texts]).encode("utf-8")
    data = data.replace(b"!", b" ! ").replace(b"?", b" ? ").translate(_BYTE_TABLE)
    # "''" is a quote mark; edge apostrophes are quotes ('like this') or elisions (rockin').
    data = data.replace(b"''", b" ").replace(b"n't", b" n't").replace(b" '", b" ")
    tokens = data.replace(b"' ", b" ").split()
    codes, types = pd.factorize(np.array(tokens, dtype=object))
    codes = codes.astype(np.int64)
    boundary = np.flatnonzero(types == BOUNDARY)
    review = np.cumsum(codes == boundary[0]) if boundary.size else np.zeros(codes.size, np.int64)
    return TokenizedCorpus(codes, np.asarray(types, dtype=object), review, len(texts))


@dataclass
class NgramCounter:
    """Counts of word 1..ngram_max-grams over a vocabulary fitted on training reviews only.

    Features are the kept unigrams, then the kept bigrams, and so on; `vocabulary` maps a token
    to its id and `grams[n - 1]` holds the integer codes of the kept n-grams in feature order.
    """

    ngram_max: int
    min_df: int = 1
    vocabulary: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object))
    grams: list[pd.Index] = field(default_factory=list)

    @property
    def n_features(self) -> int:
        return sum(len(g) for g in self.grams)

    def fit_transform(self, corpus: TokenizedCorpus | Sequence[str]) -> sp.csr_matrix:
        """Learn the vocabulary and kept n-grams from `corpus`; return its count matrix."""
        corpus = _as_corpus(corpus)
        self.vocabulary = pd.Index(corpus.types[corpus.types != BOUNDARY])
        size = len(self.vocabulary)
        if size and size**self.ngram_max > _MAX_CODE:
            raise SentibenchError(
                f"{size} distinct tokens are too many to encode {self.ngram_max}-grams; "
                "lower ngram_max."
            )
        reviews, cols, distinct, offset = [], [], [], 0
        for codes, review in self._ngram_codes(corpus):
            col, grams = pd.factorize(codes)  # a column per distinct n-gram, in order of appearance
            reviews.append(review)
            cols.append(col + offset)
            distinct.append(grams)
            offset += len(grams)
        counts = _count_matrix(reviews, cols, corpus.n_reviews, offset)
        kept = np.bincount(counts.indices, minlength=offset) >= self.min_df  # document frequency
        bounds = np.cumsum([0, *map(len, distinct)])
        spans = itertools.pairwise(bounds)
        self.grams = [pd.Index(g[kept[a:b]]) for g, (a, b) in zip(distinct, spans, strict=True)]
        return _keep_columns(counts, kept)

    def transform(self, corpus: TokenizedCorpus | Sequence[str]) -> sp.csr_matrix:
        """Count matrix of `corpus` over the fitted features (unseen n-grams are dropped)."""
        corpus = _as_corpus(corpus)
        reviews, cols, offset = [], [], 0
        for grams, (codes, review) in zip(self.grams, self._ngram_codes(corpus), strict=True):
            col = grams.get_indexer(codes)
            known = col >= 0
            reviews.append(review[known])
            cols.append(col[known] + offset)
            offset += len(grams)
        return _count_matrix(reviews, cols, corpus.n_reviews, self.n_features)

    def _ngram_codes(self, corpus: TokenizedCorpus):  # noqa: ANN202 - yields array pairs
        """For n = 1..ngram_max: the code of every n-gram of known tokens, and its review."""
        ids = self.vocabulary.get_indexer(corpus.types)[corpus.codes]  # -1: unknown or boundary
        size = len(self.vocabulary)
        for n in range(1, self.ngram_max + 1):
            m = max(ids.size - n + 1, 0)
            codes, valid = ids[:m].copy(), ids[:m] >= 0
            for k in range(1, n):
                following = ids[k : k + m]
                codes = codes * size + following
                valid &= following >= 0
            yield codes[valid], corpus.review[:m][valid]

    def state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready parameters and the arrays to store next to them (no pickle needed)."""
        params = {
            "ngram_max": self.ngram_max,
            "min_df": self.min_df,
            "vocabulary": [token.decode("utf-8") for token in self.vocabulary],
        }
        arrays = {f"grams_{n}": np.asarray(g, dtype=np.int64) for n, g in enumerate(self.grams, 1)}
        return params, arrays

    @classmethod
    def from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> NgramCounter:
        vocabulary = pd.Index([t.encode("utf-8") for t in params["vocabulary"]], dtype=object)
        grams = [pd.Index(arrays[f"grams_{n}"]) for n in range(1, params["ngram_max"] + 1)]
        return cls(params["ngram_max"], params["min_df"], vocabulary, grams)


def _as_corpus(corpus: TokenizedCorpus | Sequence[str]) -> TokenizedCorpus:
    return corpus if isinstance(corpus, TokenizedCorpus) else tokenize_corpus(corpus)


def _count_matrix(
    rows: list[np.ndarray], cols: list[np.ndarray], n_rows: int, n_cols: int
) -> sp.csr_matrix:
    """CSR matrix counting each (row, col) occurrence."""
    if n_cols == 0:
        return sp.csr_matrix((n_rows, 0))
    # one sort of row * n_cols + col yields the entries already in CSR order, with counts
    key, counts = np.unique(
        np.concatenate(rows) * n_cols + np.concatenate(cols), return_counts=True
    )
    row, col = np.divmod(key, n_cols)
    indptr = np.searchsorted(row, np.arange(n_rows + 1))
    return sp.csr_matrix((counts.astype(np.float64), col, indptr), shape=(n_rows, n_cols))


def _keep_columns(matrix: sp.csr_matrix, kept: np.ndarray) -> sp.csr_matrix:
    """The columns of a CSR matrix where `kept` is true (cheaper than matrix[:, kept])."""
    entry_kept = kept[matrix.indices]
    kept_before = np.concatenate(([0], np.cumsum(entry_kept)))
    new_column = np.cumsum(kept) - 1
    return sp.csr_matrix(
        (
            matrix.data[entry_kept],
            new_column[matrix.indices[entry_kept]],
            kept_before[matrix.indptr],
        ),
        shape=(matrix.shape[0], int(kept.sum())),
    )
