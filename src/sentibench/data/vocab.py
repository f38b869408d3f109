"""Word vocabulary for the classic nets, built from the training split only.

The seed built its vocabulary from train and test together (a leak: test words got their own
vectors) and used id 0 for both padding and unknown words. Here `<pad>` is 0, `<unk>` is 1,
and every other id belongs to a word seen at least `min_freq` times in the training texts.
Ids are assigned by descending frequency, ties broken alphabetically, so the same training
texts always give the same ids.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentibench.data.text import tokenize
from sentibench.errors import DataError
from sentibench.runs import atomic_write_json

PAD, UNK = "<pad>", "<unk>"
PAD_INDEX, UNK_INDEX = 0, 1


@dataclass
class Vocabulary:
    """Words by id (`itos`) with their training counts; <pad> and <unk> first, count 0.

    `total_tokens` counts every training token, including those mapped to <unk>, so that the
    share of training tokens a set of word vectors covers can be computed.
    """

    itos: list[str]
    counts: list[int]
    total_tokens: int
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.itos[:2] != [PAD, UNK] or len(self.counts) != len(self.itos):
            raise DataError("A vocabulary must start with <pad>, <unk> and give a count per word.")
        self.stoi = {word: index for index, word in enumerate(self.itos)}

    @classmethod
    def build(
        cls, token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Count tokens; keep words seen >= min_freq times, at most max_size of them
        (besides <pad> and <unk>), most frequent first."""
        counter: Counter[str] = Counter()
        for tokens in token_lists:
            counter.update(tokens)
        counter.pop(PAD, None)
        counter.pop(UNK, None)
        kept = sorted(
            (item for item in counter.items() if item[1] >= min_freq),
            key=lambda item: (-item[1], item[0]),
        )[:max_size]
        return cls(
            itos=[PAD, UNK, *(word for word, _ in kept)],
            counts=[0, 0, *(count for _, count in kept)],
            total_tokens=sum(counter.values()),
        )

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        return cls.build((tokenize(text) for text in texts), min_freq, max_size)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of `tokens`, <unk> for words outside the vocabulary."""
        get = self.stoi.get
        return [get(token, UNK_INDEX) for token in tokens]

    def save(self, path: Path) -> None:
        data = {"itos": self.itos, "counts": self.counts, "total_tokens": self.total_tokens}
        atomic_write_json(Path(path), data)

    @classmethod
    def load(cls, path: Path) -> Vocabulary:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(data["itos"], data["counts"], data["total_tokens"])
        except FileNotFoundError:
            raise DataError(f"Vocabulary file {path} does not exist.") from None
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"Vocabulary file {path} is malformed ({exc}); retrain.") from None
