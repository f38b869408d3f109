"""The transformer recipe on the shared loop (train/loop.py): tokenised reviews in, a model out."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from sentibench.data.batching import token_budget_batches
from sentibench.recipes.transformer.config import TransformerConfig
from sentibench.recipes.transformer.predictor import resolve_precision, training_precision
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

COMPILE_BACKEND = "inductor"  # torch.compile's own default, named for the tests


def encode_splits(
    config: TransformerConfig, tokenizer: Any, splits: Splits
) -> tuple[EncodedReviews, EncodedReviews]:
    encoder = ReviewEncoder(tokenizer, config.max_length, config.truncation, config.head_tokens)
    return tuple(
        EncodedReviews(encoder.encode(frame["text"].tolist()), frame["label"].tolist())
        for frame in (splits.train, splits.validation)
    )  # type: ignore[return-value]


def epoch_batches(
    train: EncodedReviews, collate: Any, config: TransformerConfig, epoch: int
) -> DataLoader:
    """The training batches of `epoch` (1, 2, ...): a function of (seed, epoch), so that a
    resumed run replays them. batch_tokens > 0: token-budget batches of similar lengths
    (data/batching.py); else batch_size reviews, grouped by length or shuffled."""
    seed = config.seed * 1_000_003 + epoch
    if config.batch_tokens > 0:
        lengths = np.asarray(train.lengths, dtype=np.int64)
        groups = [b.tolist() for b in token_budget_batches(lengths, config.batch_tokens, seed)]
        return DataLoader(train, batch_sampler=groups, collate_fn=collate)
    if config.group_by_length:
        sampler = length_grouped_sampler(train, config.batch_size, seed)
    else:
        sampler = RandomSampler(train, generator=torch.Generator().manual_seed(seed))
    return DataLoader(train, batch_size=config.batch_size, sampler=sampler, collate_fn=collate)


def train_native(
    model: nn.Module,
    tokenizer: Any,
    train: EncodedReviews,
    validation: EncodedReviews,
    config: TransformerConfig,
    run: RunDir | None,
) -> tuple[nn.Module, np.ndarray | None]:
    """sentibench's shared loop (train/loop.py): the same loop as every other torch model.
    Returns the kept model and its validation logits (n, k) in the validation split's order,
    from the loop's own evaluation (None where it has none: see LoopResult)."""
    from sentibench.train.loop import LoopConfig, train_loop

    collate = padding_collator(tokenizer)

    def train_batches(epoch: int) -> DataLoader:
        return epoch_batches(train, collate, config, epoch)

    order = length_sorted_order(validation.ids)
    size = config.eval_batch_size
    val_batches = [
        collate([validation[i] for i in order[start : start + size]])
        for start in range(0, len(order), size)
    ]
    steps = sum(
        math.ceil(len(train_batches(epoch)) / config.grad_accum)
        for epoch in range(1, config.epochs + 1)
    )
    loop_config = LoopConfig.from_config(
        config,
        warmup_ratio=config.warmup_fraction(steps),
        clip_norm=config.max_grad_norm,
        mixed_precision=resolve_precision(config.mixed_precision),
        cpu_bf16=not torch.cuda.is_available() and training_precision(config) == "bf16",
    )
    if config.torch_compile:
        # in place (nn.Module.compile): parameters, checkpoints and the saved model keep their
        # names, where torch.compile's wrapper would prefix them with "_orig_mod."
        model.compile(backend=COMPILE_BACKEND, dynamic=True)
        if run is not None:
            run.log(f"torch.compile ({COMPILE_BACKEND}, dynamic shapes): the first batches "
                    "of training and of evaluation compile")  # fmt: skip
    result = train_loop(model, train_batches, val_batches, loop_config, run)
    if result.best_val_logits is None:
        return result.model, None
    logits = np.empty(tuple(result.best_val_logits.shape), dtype=np.float32)
    logits[np.asarray(order, dtype=np.int64)] = result.best_val_logits.numpy()  # batch order back
    return result.model, logits
