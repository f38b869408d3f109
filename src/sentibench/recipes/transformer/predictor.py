"""The trained transformer as a TorchPredictor: raw texts -> tokenizer batches -> P(positive),
or with k > 2 label names the k class probabilities (predict_class_proba)."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sentibench.labels import BINARY_LABELS
from sentibench.predictor import (
    Batch,
    batch_logits,
    binary_columns,
    positive_proba,
    require_binary,
    softmax_proba,
)
from sentibench.recipes.transformer.config import TransformerConfig
from sentibench.runtime import cpu_precision
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


def training_precision(config: TransformerConfig) -> str:
    """What training computes in on this machine, "bf16" | "fp16" | "fp32": mixed_precision
    decides on a GPU, cpu_precision on a CPU (both loops)."""
    precision = resolve_precision(config.mixed_precision)  # also refuses fp16 without CUDA
    if torch.cuda.is_available():
        return "fp32" if precision == "no" else precision
    if torch.backends.mps.is_available():  # the loop runs fp32 there
        return "fp32"
    return cpu_precision(config.cpu_precision).dtype


def autocast(precision: str, device: torch.device) -> Any:
    """Autocast for scoring: bf16 / fp16 on CUDA, bf16 on a CPU; "no": none."""
    if precision == "no" or device.type not in ("cuda", "cpu"):
        return nullcontext()
    if device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


class LogitsOf(nn.Module):
    """forward(input_ids, attention_mask) -> logits, for a transformers classifier (export)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def is_lora(model: nn.Module) -> bool:
    configs = getattr(model, "peft_config", {}) or {}
    return any(str(getattr(c, "peft_type", "")).endswith("LORA") for c in configs.values())


class TransformerPredictor:
    """A trained classifier with its tokenizer: a TorchPredictor (input_ids, attention_mask).

    Its head has one output per name in `label_names` (label id i = label_names[i]). Two
    classes: predict_proba gives P(positive) as always; k > 2: predict_class_proba gives the
    (n, k) softmax, and predict_proba refuses (there is no one "positive" probability).
    """

    input_names: tuple[str, ...] = ("input_ids", "attention_mask")
    dynamic_axes = {
        "input_ids": {0: "batch", 1: "tokens"},
        "attention_mask": {0: "batch", 1: "tokens"},
    }

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        config: TransformerConfig,
        resolved: str | None,
        device: torch.device | None = None,
        label_names: Sequence[str] = BINARY_LABELS,
    ) -> None:
        self.device = device or best_device()
        self.label_names = tuple(label_names)
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
        # Otherwise scoring follows the run's mixed_precision on a GPU and its cpu_precision
        # on a CPU, resolved on the machine that scores (a GPU run's model can be scored
        # anywhere, and a GPU run's cpu_precision is fp32 unless it was set).
        if config.method == "ptuning" or self.device.type not in ("cuda", "cpu"):
            self.precision = "no"
        elif self.device.type == "cuda":
            self.precision = resolve_precision(config.mixed_precision)
        else:
            self.precision = "bf16" if cpu_precision(config.cpu_precision).bf16 else "no"
        self.train_precision: str | None = None  # set by the recipe after training
        # (n, k) on the validation split from the shared loop's evaluation (set by the recipe)
        self.held_out_validation_proba: np.ndarray | None = None
        self.n_parameters, self.n_trainable = parameter_counts(model)

    @property
    def score_precision(self) -> str:
        """What scoring computes in: "fp32" | "bf16" | "fp16" (training_precision's names)."""
        return {"no": "fp32"}.get(self.precision, self.precision)

    @property
    def precisions(self) -> dict[str, str]:
        """For the run's metrics: what it trained (when known) and scores in."""
        train = {} if self.train_precision is None else {"train_precision": self.train_precision}
        return {**train, "score_precision": self.score_precision}

    def batches(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, Batch]]:
        """Longest first (least padding), each batch padded to its longest review."""
        return self.batches_of_ids(self.encoder.encode(texts))

    def batches_of_ids(self, ids: Sequence[Sequence[int]]) -> Iterator[tuple[np.ndarray, Batch]]:
        """batches() of reviews already encoded."""
        order = np.asarray(length_sorted_order(ids), dtype=np.int64)
        size = self.config.eval_batch_size
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            batch = self.collate([{"input_ids": ids[i]} for i in chunk])
            yield chunk, {name: batch[name] for name in self.input_names}

    def _logits_of(self, batch: Batch) -> torch.Tensor:
        batch = {name: tensor.to(self.device) for name, tensor in batch.items()}
        with autocast(self.precision, self.device):
            return self.model(**batch).logits

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) float32 logits, in the order of `texts` (k = len(label_names))."""
        return self.logits_of_ids(self.encoder.encode(texts))

    def logits_of_ids(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """logits() of reviews already encoded as this predictor encodes them (specials
        included, within max_length): for token ids prepared elsewhere."""
        self.model.eval()
        k = len(self.label_names)
        return batch_logits(self.batches_of_ids(ids), len(ids), self._logits_of, k)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        require_binary(self.label_names)
        return positive_proba(self.logits(texts))

    def predict_class_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) float64 class probabilities in label_names order; with two classes exactly
        [1 - P(positive), P(positive)] of predict_proba."""
        return self.proba_of_logits(self.logits(texts))

    def proba_of_logits(self, logits: np.ndarray) -> np.ndarray:
        """(n, k) class probabilities from this model's (n, k) logits, as predict_class_proba."""
        if len(self.label_names) == 2:
            return binary_columns(positive_proba(logits))
        return softmax_proba(logits)

    def export_module(self) -> nn.Module:
        """A CPU copy with LoRA adapters merged into the weights (prompt methods stay):
        peft's LoRA layers read the base layer's float weight, which int8 layers lack."""
        model = copy.deepcopy(self.model).cpu().eval()
        merge = getattr(model, "merge_and_unload", None)  # a peft model's
        if merge is not None and is_lora(model):
            model = merge()
        return LogitsOf(model).eval()

    def save(self, directory: Path) -> None:
        save_model(self.model, self.tokenizer, self.config, self.resolved or "", directory,
                   self.label_names)  # fmt: skip
