"""The transformer recipe on the shared loop (train/loop.py): tokenised reviews in, a model out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from sentibench.recipes.transformer.config import TransformerConfig, optimizer_steps
from sentibench.recipes.transformer.predictor import resolve_precision
from sentibench.transformers.tokenization import (
    EncodedReviews,
    ReviewEncoder,
    length_grouped_sampler,
    length_sorted_order,
    padding_collator,
)

if TYPE_CHECKING:
    from sentibench.data.dataset import Splits
    from sentibench.runs import RunDir


def encode_splits(
    config: TransformerConfig, tokenizer: Any, splits: Splits
) -> tuple[EncodedReviews, EncodedReviews]:
    encoder = ReviewEncoder(tokenizer, config.max_length, config.truncation, config.head_tokens)
    return tuple(
        EncodedReviews(encoder.encode(frame["text"].tolist()), frame["label"].tolist())
        for frame in (splits.train, splits.validation)
    )  # type: ignore[return-value]


def train_native(
    model: nn.Module,
    tokenizer: Any,
    train: EncodedReviews,
    validation: EncodedReviews,
    config: TransformerConfig,
    run: RunDir | None,
) -> nn.Module:
    """sentibench's shared loop (train/loop.py): the same loop as every other torch model."""
    from sentibench.train.loop import LoopConfig, train_loop

    collate = padding_collator(tokenizer)

    def train_batches(epoch: int) -> DataLoader:
        # The batch order is a function of (seed, epoch), so that a resumed run replays it.
        seed = config.seed * 1_000_003 + epoch
        if config.group_by_length:
            sampler = length_grouped_sampler(train, config.batch_size, seed)
        else:
            sampler = RandomSampler(train, generator=torch.Generator().manual_seed(seed))
        return DataLoader(train, batch_size=config.batch_size, sampler=sampler, collate_fn=collate)

    order = length_sorted_order(validation.ids)
    size = config.eval_batch_size
    val_batches = [
        collate([validation[i] for i in order[start : start + size]])
        for start in range(0, len(order), size)
    ]
    steps = optimizer_steps(len(train), config)
    loop_config = LoopConfig.from_config(
        config,
        warmup_ratio=config.warmup_fraction(steps),
        clip_norm=config.max_grad_norm,
        mixed_precision=resolve_precision(config.mixed_precision),
    )
    return train_loop(model, train_batches, val_batches, loop_config, run).model
