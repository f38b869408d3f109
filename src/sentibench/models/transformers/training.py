"""Train a transformer recipe: tokenise, build the model, run the native loop or HF Trainer."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, RandomSampler

from sentibench.models.transformers.backbone import load_tokenizer, resolve_backbone
from sentibench.models.transformers.modeling import build_model
from sentibench.models.transformers.predictor import TransformerPredictor, resolve_precision
from sentibench.models.transformers.recipe import TransformerConfig, optimizer_steps
from sentibench.models.transformers.tokenization import (
    EncodedReviews,
    ReviewEncoder,
    length_grouped_sampler,
    length_sorted_order,
    padding_collator,
)


def encode_splits(
    config: TransformerConfig, tokenizer: Any, splits: Any
) -> tuple[EncodedReviews, EncodedReviews]:
    encoder = ReviewEncoder(tokenizer, config.max_length, config.truncation, config.head_tokens)
    return tuple(
        EncodedReviews(encoder.encode(frame["text"].tolist()), frame["label"].tolist())
        for frame in (splits.train, splits.validation)
    )  # type: ignore[return-value]


def train_transformer(config: TransformerConfig, splits: Any, run: Any) -> TransformerPredictor:
    from accelerate.utils import set_seed

    if config.threads > 0:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)  # the new head and the adapters are initialised from this
    resolved = resolve_backbone(config.backbone)
    tokenizer = load_tokenizer(resolved, config.trust_remote_code)
    model = build_model(config, resolved, tokenizer)
    train, validation = encode_splits(config, tokenizer, splits)
    if run is not None:
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        run.log(
            f"{config.backbone} ({resolved}), method {config.method}, loop {config.loop}: "
            f"{trainable:,} of {total:,} parameters train"
        )
    if config.loop == "trainer":
        from sentibench.train.hf_trainer import train_with_trainer

        model = train_with_trainer(model, tokenizer, train, validation, config, run)
    else:
        model = train_native(model, tokenizer, train, validation, config, run)
    return TransformerPredictor(model, tokenizer, config, resolved)


def train_native(
    model: nn.Module,
    tokenizer: Any,
    train: EncodedReviews,
    validation: EncodedReviews,
    config: TransformerConfig,
    run: Any,
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
