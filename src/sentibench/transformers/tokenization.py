"""Reviews -> token ids with a length budget, and batches with dynamic padding.

IMDB reviews run to ~2,500 word pieces, so most are cut. Two ways to cut, on token ids (not
characters), after tokenising the whole review once without special tokens:

    head       keep the first max_length - specials tokens (the usual truncation)
    head_tail  keep the first `head_tokens` and the last (budget - head_tokens) tokens
               (Sun et al. 2019, "How to Fine-Tune BERT for Text Classification?": head 128 +
               tail 382 was best on IMDb; reviews often end with the verdict)

The special tokens ([CLS] ... [SEP], <s> ... </s>) are read off the tokenizer itself, so any
architecture works. Padding happens per batch (DataCollatorWithPadding), and training batches
can be grouped by length (transformers' LengthGroupedSampler) so little compute goes to pads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.utils.data import Dataset

from sentibench.errors import ConfigError

TRUNCATIONS = ("head", "head_tail")


def truncate(ids: Sequence[int], budget: int, strategy: str, head_tokens: int) -> list[int]:
    """Cut `ids` to at most `budget` tokens by `strategy`."""
    ids = list(ids)
    if len(ids) <= budget:
        return ids
    if strategy == "head":
        return ids[:budget]
    if strategy == "head_tail":
        head = min(head_tokens, budget)
        tail = budget - head
        return ids[:head] + (ids[-tail:] if tail else [])
    raise ConfigError(f"truncation must be one of {', '.join(TRUNCATIONS)}, got {strategy!r}.")


def special_tokens_around(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after a single sequence, found by encoding a probe."""
    probe = "hello"
    bare = tokenizer(probe, add_special_tokens=False)["input_ids"]
    full = tokenizer(probe, add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start : start + len(bare)] == bare:
            return full[:start], full[start + len(bare) :]
    raise ConfigError(f"Cannot find how {type(tokenizer).__name__} adds special tokens.")


class ReviewEncoder:
    """Texts -> lists of token ids of at most `max_length`, specials included."""

    def __init__(
        self, tokenizer: Any, max_length: int, truncation: str = "head", head_tokens: int = 128
    ) -> None:
        self.tokenizer = tokenizer
        self.before, self.after = special_tokens_around(tokenizer)
        self.budget = max_length - len(self.before) - len(self.after)
        if self.budget < 1:
            raise ConfigError(f"max_length {max_length} leaves no room for text.")
        if truncation not in TRUNCATIONS:
            raise ConfigError(
                f"truncation must be one of {', '.join(TRUNCATIONS)}, got {truncation!r}."
            )
        self.truncation = truncation
        self.head_tokens = head_tokens

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        if not texts:
            return []
        # verbose=False: the full reviews are longer than the model's limit on purpose.
        pieces = self.tokenizer(list(texts), add_special_tokens=False, verbose=False)["input_ids"]
        return [
            self.before + truncate(ids, self.budget, self.truncation, self.head_tokens) + self.after
            for ids in pieces
        ]


class EncodedReviews(Dataset):
    """Token ids (+ labels) as the dicts that DataCollatorWithPadding and Trainer expect."""

    def __init__(self, ids: list[list[int]], labels: Sequence[int] | None = None) -> None:
        self.ids = ids
        self.labels = None if labels is None else [int(y) for y in labels]

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item: dict[str, Any] = {"input_ids": self.ids[index]}
        if self.labels is not None:
            item["labels"] = self.labels[index]
        return item

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.ids]


def padding_collator(tokenizer: Any) -> Any:
    """Pad each batch to its longest review (and to a multiple of 8 for tensor cores on GPU)."""
    from transformers import DataCollatorWithPadding

    multiple = 8 if torch.cuda.is_available() else None
    return DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple, return_tensors="pt")


def length_grouped_sampler(
    dataset: EncodedReviews, batch_size: int, seed: int
) -> torch.utils.data.Sampler:
    """Shuffled mega-batches (50 batches each) sorted by length: similar lengths share a batch."""
    from transformers.trainer_pt_utils import LengthGroupedSampler

    generator = torch.Generator().manual_seed(seed)
    return LengthGroupedSampler(batch_size, lengths=dataset.lengths, generator=generator)


def length_sorted_order(ids: Sequence[Sequence[int]]) -> list[int]:
    """Indices from longest to shortest: the cheapest order to predict in (least padding)."""
    return sorted(range(len(ids)), key=lambda i: -len(ids[i]))
