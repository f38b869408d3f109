"""The trained transformer as a sentibench Predictor: raw texts -> P(positive)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentibench.transformers.modeling import parameter_counts, save_model
from sentibench.transformers.tokenization import (
    ReviewEncoder,
    length_sorted_order,
    padding_collator,
)


def best_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_precision(setting: str) -> str:
    """auto: bf16 on a GPU that has it, fp16 on an older GPU, fp32 ("no") on the CPU."""
    from sentibench.errors import ConfigError

    cuda = torch.cuda.is_available()
    if setting == "auto":
        if not cuda:
            return "no"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if setting == "fp16" and not cuda:
        raise ConfigError("mixed_precision 'fp16' needs a CUDA GPU; use 'auto' or 'no'.")
    return setting


def autocast(precision: str, device: torch.device) -> Any:
    if precision == "no" or device.type != "cuda":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


class TransformerPredictor:
    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        config: Any,
        resolved: str | None,
        device: torch.device | None = None,
    ) -> None:
        self.device = device or best_device()
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.config = config
        self.resolved = resolved
        self.encoder = ReviewEncoder(
            tokenizer, config.max_length, config.truncation, config.head_tokens
        )
        self.collate = padding_collator(tokenizer)
        # P-tuning scores in fp32: a reloaded adapter holds the prompt encoder's fp32 output,
        # so the trained model must not compute that output under autocast, or the run's test
        # predictions and `predict --run` could differ in the last digits.
        # Scoring on a CPU runs in fp32 whatever the run trained with (a GPU run's model can
        # be scored anywhere).
        fp32 = config.method == "ptuning" or self.device.type != "cuda"
        self.precision = "no" if fp32 else resolve_precision(config.mixed_precision)
        self.n_parameters, self.n_trainable = parameter_counts(model)

    @torch.no_grad()
    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """(n, 2) logits, in the order of `texts`; batches go longest first (least padding)."""
        ids = self.encoder.encode(texts)
        order = length_sorted_order(ids)
        out = np.zeros((len(ids), 2), dtype=np.float32)
        size = self.config.eval_batch_size
        self.model.eval()
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = self.collate([{"input_ids": ids[i]} for i in chunk])
            batch = {k: v.to(self.device) for k, v in batch.items()}
            with autocast(self.precision, self.device):
                logits = self.model(**batch).logits
            out[chunk] = logits.float().cpu().numpy()
        return out

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        logits = torch.from_numpy(self.logits(texts))
        return torch.softmax(logits, dim=-1)[:, 1].double().numpy()

    def save(self, directory: Path) -> None:
        save_model(self.model, self.tokenizer, self.config, self.resolved or "", directory)
