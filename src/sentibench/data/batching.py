"""Word-id sequences and the batches the classic nets train on.

A review becomes at most `max_len` ids. `head` keeps the first max_len tokens; `head_tail`
keeps the first `head_tokens` and the last max_len - head_tokens, because IMDB reviews often
end with the verdict ("... 8/10, see it"). Empty reviews become one <unk> so every length is
>= 1 (packed RNNs reject length 0).

Batches group reviews of similar length (bucketing): the shuffled examples are cut into large
chunks, each chunk is sorted by length and cut into batches, and the batch order is shuffled.
With dynamic padding a batch is only as wide as its longest review, so an RNN over a batch of
80-token reviews does 80 steps, not 512. Everything is a function of (seed, epoch), which is
all a resumed run needs to replay the same batches. `pad_to_max_len` pads every batch to
max_len (the naive baseline of the speed comparison). token_budget_batches cuts the same sorted
chunks by a token budget instead of a row count (the transformer recipe's `batch_tokens`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np
import torch

from sentibench.data.text import tokenize
from sentibench.data.vocab import PAD_INDEX, UNK_INDEX, Vocabulary

Truncation = Literal["head", "head_tail"]
# Examples per bucketing chunk = batch_size * CHUNK_BATCHES: large enough that a chunk sorts
# into batches of near-equal length, small enough that batches still mix the whole dataset.
CHUNK_BATCHES = 50


def truncate(
    ids: Sequence[int], max_len: int, truncation: Truncation, head_tokens: int
) -> list[int]:
    """At most max_len ids: the head, or the first head_tokens plus the tail."""
    ids = list(ids)
    if len(ids) <= max_len:
        return ids
    if truncation == "head":
        return ids[:max_len]
    return ids[:head_tokens] + ids[len(ids) - (max_len - head_tokens) :]


def encode_tokens(
    token_lists: Iterable[Sequence[str]],
    vocab: Vocabulary,
    max_len: int,
    truncation: Truncation = "head",
    head_tokens: int = 0,
) -> list[np.ndarray]:
    """int64 id arrays, one per token list, each 1..max_len long."""
    encoded = []
    for tokens in token_lists:
        ids = truncate(vocab.encode(tokens), max_len, truncation, head_tokens)
        encoded.append(np.asarray(ids or [UNK_INDEX], dtype=np.int64))
    return encoded


def encode_texts(
    texts: Iterable[str],
    vocab: Vocabulary,
    max_len: int,
    truncation: Truncation = "head",
    head_tokens: int = 0,
) -> list[np.ndarray]:
    """encode_tokens of the tokenized texts."""
    return encode_tokens((tokenize(t) for t in texts), vocab, max_len, truncation, head_tokens)


def bucket_batches(
    lengths: np.ndarray, batch_size: int, seed: int, bucket: bool = True
) -> list[np.ndarray]:
    """Index arrays covering every example exactly once, shuffled by `seed`.

    With bucket=True, examples within each chunk of batch_size * CHUNK_BATCHES are sorted by
    length before being cut into batches, so a batch holds reviews of similar length.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    if bucket:
        order = np.concatenate(
            _length_sorted_chunks(order, lengths, batch_size * CHUNK_BATCHES) or [order]
        )
    batches = _split(order, batch_size)
    return [batches[i] for i in rng.permutation(len(batches))]


def token_budget_batches(lengths: np.ndarray, batch_tokens: int, seed: int) -> list[np.ndarray]:
    """Index arrays covering every example exactly once, shuffled by `seed`, each batch as many
    examples of similar length as fit in `batch_tokens` once padded to its longest
    (rows x longest <= batch_tokens): short reviews go in wide batches, long ones in narrow.

    The chunks are bucket_batches' (shuffled, each sorted by length), cut greedily in length
    order, so a batch's longest member is its last one.
    """
    if len(lengths) and int(lengths.max()) > batch_tokens:
        raise ValueError(f"an example of {int(lengths.max())} tokens exceeds {batch_tokens}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    typical = max(1, int(np.ceil(lengths.mean()))) if len(lengths) else 1
    chunk = max(1, batch_tokens // typical) * CHUNK_BATCHES
    batches: list[np.ndarray] = []
    for part in _length_sorted_chunks(order, lengths, chunk):
        start = 0
        for end in range(1, len(part) + 1):
            if end == len(part) or (end - start + 1) * int(lengths[part[end]]) > batch_tokens:
                batches.append(part[start:end])
                start = end
    return [batches[i] for i in rng.permutation(len(batches))]


def _length_sorted_chunks(order: np.ndarray, lengths: np.ndarray, chunk: int) -> list[np.ndarray]:
    """`order` cut into pieces of `chunk` examples, each sorted by length (stable)."""
    return [part[np.argsort(lengths[part], kind="stable")] for part in _split(order, chunk)]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Batches in order of length, no shuffling: for validation and prediction."""
    return _split(np.argsort(lengths, kind="stable"), batch_size)


def _split(indices: np.ndarray, size: int) -> list[np.ndarray]:
    return [indices[start : start + size] for start in range(0, len(indices), size)]


def lengths_of(encoded: Sequence[np.ndarray]) -> np.ndarray:
    return np.fromiter((len(ids) for ids in encoded), dtype=np.int64, count=len(encoded))


def collate(
    encoded: Sequence[np.ndarray], labels: np.ndarray | None, pad_to: int | None = None
) -> dict[str, torch.Tensor]:
    """{"ids": LongTensor[B, T] padded with <pad> at the end, "lengths": LongTensor[B],
    "labels": LongTensor[B] (when given)}; T is the longest review, or pad_to."""
    lengths = lengths_of(encoded)
    ids = np.full((len(encoded), pad_to or int(lengths.max())), PAD_INDEX, dtype=np.int64)
    for row, sequence in enumerate(encoded):
        ids[row, : len(sequence)] = sequence
    batch = {"ids": torch.from_numpy(ids), "lengths": torch.from_numpy(lengths)}
    if labels is not None:
        batch["labels"] = torch.as_tensor(labels, dtype=torch.long)
    return batch


class Batches:
    """A re-iterable, sized sequence of collated batches over fixed index groups."""

    def __init__(
        self,
        encoded: Sequence[np.ndarray],
        labels: np.ndarray | None,
        index_batches: list[np.ndarray],
        pad_to: int | None = None,
    ) -> None:
        self.encoded = encoded
        self.labels = labels
        self.index_batches = index_batches
        self.pad_to = pad_to

    def __len__(self) -> int:
        return len(self.index_batches)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for indices in self.index_batches:
            labels = None if self.labels is None else self.labels[indices]
            yield collate([self.encoded[i] for i in indices], labels, self.pad_to)


def training_batches(
    encoded: Sequence[np.ndarray],
    labels: np.ndarray,
    batch_size: int,
    seed: int,
    epoch: int,
    bucket: bool = True,
    pad_to: int | None = None,
) -> Batches:
    """The shuffled (bucketed) batches of one epoch; the same (seed, epoch) gives the same."""
    order_seed = np.random.SeedSequence([seed, epoch]).generate_state(1)[0]
    index_batches = bucket_batches(lengths_of(encoded), batch_size, int(order_seed), bucket)
    return Batches(encoded, labels, index_batches, pad_to)


def evaluation_batches(
    encoded: Sequence[np.ndarray], labels: np.ndarray | None, batch_size: int
) -> Batches:
    """Length-sorted batches for validation or prediction (order: Batches.index_batches)."""
    return Batches(encoded, labels, sorted_batches(lengths_of(encoded), batch_size))
