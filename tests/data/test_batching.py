"""Truncation, length bucketing and dynamic padding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sentibench.data.batching import (
    bucket_batches,
    collate,
    encode_texts,
    evaluation_batches,
    token_budget_batches,
    training_batches,
    truncate,
)
from sentibench.data.vocab import PAD_INDEX, UNK_INDEX, Vocabulary


def test_head_and_head_tail_truncation():
    ids = list(range(10))
    assert truncate(ids, 4, "head", 0) == [0, 1, 2, 3]
    assert truncate(ids, 4, "head_tail", 1) == [0, 7, 8, 9]  # the verdict at the end survives
    assert truncate(ids, 6, "head_tail", 2) == [0, 1, 6, 7, 8, 9]
    assert truncate(ids[:3], 4, "head_tail", 1) == [0, 1, 2]  # short reviews are untouched


def test_encode_texts_keeps_the_end_and_never_returns_empty():
    vocab = Vocabulary.from_texts(["the start then middle words and finally the verdict great"])
    text = "the start then middle words and finally the verdict great"
    (head_tail, empty) = encode_texts([text, "..."], vocab, 4, "head_tail", 1)
    assert [vocab.itos[i] for i in head_tail] == ["the", "the", "verdict", "great"]
    assert empty.tolist() == [UNK_INDEX]  # length >= 1 for packed RNNs


def test_bucketing_covers_every_example_once_and_groups_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 500, size=3000)
    batches = bucket_batches(lengths, batch_size=32, seed=1)
    covered = np.concatenate(batches)
    assert sorted(covered.tolist()) == list(range(3000))
    bucketed_spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in bucket_batches(lengths, 32, 1, False)])
    assert bucketed_spread < random_spread / 5
    # padding a batch to its longest review wastes far less than padding to the longest overall
    padded = sum(len(b) * lengths[b].max() for b in batches)
    assert padded < 1.3 * lengths.sum()


@pytest.mark.parametrize(("budget", "seed"), [(512, 0), (700, 1), (4096, 2)])
def test_token_budget_batches_stay_within_the_budget_and_cover_every_example_once(budget, seed):
    lengths = np.random.default_rng(seed).integers(1, 513, size=2000)
    batches = token_budget_batches(lengths, budget, seed)
    assert sorted(np.concatenate(batches).tolist()) == list(range(2000))
    assert all(len(b) * lengths[b].max() <= budget for b in batches)
    # grouped by length: padding to each batch's longest wastes little
    assert sum(len(b) * lengths[b].max() for b in batches) < 1.15 * lengths.sum()
    # short reviews share wide batches, long ones narrow ones
    assert max(len(b) for b in batches) >= budget // 60
    again = token_budget_batches(lengths, budget, seed)
    assert all(np.array_equal(x, y) for x, y in zip(batches, again, strict=True))
    other = token_budget_batches(lengths, budget, seed + 10)
    assert [b.tolist() for b in other] != [b.tolist() for b in batches]


def test_token_budget_refuses_an_example_longer_than_the_budget():
    with pytest.raises(ValueError, match="600 tokens exceeds 512"):
        token_budget_batches(np.array([3, 600]), 512, 0)


def test_batch_order_depends_on_seed_and_epoch_only():
    encoded = [np.arange(1, n + 2) for n in range(100)]
    labels = np.arange(100) % 2
    a1 = training_batches(encoded, labels, 8, seed=0, epoch=1).index_batches
    again = training_batches(encoded, labels, 8, seed=0, epoch=1).index_batches
    a2 = training_batches(encoded, labels, 8, seed=0, epoch=2).index_batches
    assert all(np.array_equal(x, y) for x, y in zip(a1, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a1, a2, strict=True))


def test_collate_pads_dynamically_or_to_max_len():
    encoded = [np.array([5, 6, 7]), np.array([8])]
    batch = collate(encoded, np.array([1, 0]))
    assert batch["ids"].tolist() == [[5, 6, 7], [8, PAD_INDEX, PAD_INDEX]]
    assert batch["lengths"].tolist() == [3, 1] and batch["labels"].tolist() == [1, 0]
    assert batch["ids"].dtype == batch["lengths"].dtype == torch.long
    assert collate(encoded, None, pad_to=6)["ids"].shape == (2, 6)
    assert "labels" not in collate(encoded, None)


def test_evaluation_batches_are_length_sorted_and_complete():
    encoded = [np.ones(n, dtype=np.int64) for n in (5, 1, 3, 2, 4)]
    batches = evaluation_batches(encoded, None, batch_size=2)
    assert len(batches) == 3
    assert np.concatenate(batches.index_batches).tolist() == [1, 3, 2, 4, 0]
    assert [b["ids"].shape[1] for b in batches] == [2, 4, 5]
