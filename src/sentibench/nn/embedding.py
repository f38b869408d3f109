"""Word embeddings and padding masks shared by the seven classic nets.

Every classic net reads a batch the same way:

    ids     LongTensor[B, T]  word ids, padded with `pad_index` at the END of each row
    lengths LongTensor[B]     real tokens per row, 1 <= length <= T

and must give the same logits whatever T is (appending pad columns) and whoever else shares the
batch. The helpers below are the pieces that make that true: a boolean mask of real positions,
pooling that never reads a padded position, and embeddings zeroed at pads so that a convolution
sees the same zeros whether they come from padding or from the edge of the tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sentibench.errors import ConfigError


def require_positive(config: object, *names: str) -> None:
    """Raise ConfigError unless every named int field of `config` is >= 1."""
    for name in names:
        value = getattr(config, name)
        if value < 1:
            raise ConfigError(f"Config key '{name}' must be a positive integer, got {value}.")


def require_probability(config: object, *names: str) -> None:
    """Raise ConfigError unless every named float field of `config` is in [0, 1)."""
    for name in names:
        value = getattr(config, name)
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"Config key '{name}' is a dropout rate in [0, 1), got {value}.")


@dataclass
class EmbeddingOptions:
    """Embedding fields every classic-net Config inherits (so each Config is one flat table)."""

    embedding_dropout: float = field(
        default=0.2,
        metadata={
            "help": "spatial dropout: chance of zeroing one embedding dimension for a whole "
            "review; pretrained vectors overfit IMDB fast and this is the cheapest regulariser"
        },
    )

    def __post_init__(self) -> None:
        require_probability(self, "embedding_dropout")


def pretrained_embedding(vectors: torch.Tensor, pad_index: int, freeze: bool) -> nn.Embedding:
    """An nn.Embedding initialised from `vectors` (V x D), frozen or fine-tuned.

    `padding_idx` keeps the pad row out of every gradient, so it stays as given (the vocabulary
    gives it zeros); the models still zero pads themselves where it matters.
    """
    vectors = torch.as_tensor(vectors, dtype=torch.float32)
    if vectors.dim() != 2 or vectors.shape[0] < 2 or vectors.shape[1] < 1:
        raise ConfigError(
            "Word vectors must be a (vocabulary x dimension) matrix, "
            f"got shape {tuple(vectors.shape)}."
        )
    if not 0 <= pad_index < vectors.shape[0]:
        raise ConfigError(f"pad_index {pad_index} is outside the vocabulary of {vectors.shape[0]}.")
    return nn.Embedding.from_pretrained(vectors.clone(), freeze=freeze, padding_idx=pad_index)


class SpatialDropout(nn.Module):
    """Drop whole embedding dimensions for a whole sequence (Keras' SpatialDropout1D).

    Element-wise dropout on word vectors is easy to undo for a model (the neighbouring words
    carry the same information); zeroing dimension d at every time step is not.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (B, T, D)
        if not self.training or self.p == 0.0:
            return x
        # dropout1d zeroes whole channels of (B, C, L): here C = embedding dim, L = time.
        return F.dropout1d(x.transpose(1, 2), self.p, training=True).transpose(1, 2)


def padding_mask(lengths: torch.Tensor, total_length: int) -> torch.Tensor:
    """Bool[B, T], True at real tokens: position t of row b is real iff t < lengths[b]."""
    positions = torch.arange(total_length, device=lengths.device)
    return positions.unsqueeze(0) < lengths.unsqueeze(1)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max over time of x (B, T, C), reading only positions where mask (B, T) is True."""
    return x.masked_fill(~mask.unsqueeze(-1), float("-inf")).amax(dim=1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over time of x (B, T, C) over positions where mask (B, T) is True (lengths >= 1)."""
    weights = mask.unsqueeze(-1).to(x.dtype)
    return (x * weights).sum(dim=1) / weights.sum(dim=1)


def embed(
    embedding: nn.Embedding, dropout: SpatialDropout, ids: torch.Tensor, lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Look up ids (B, T) -> (vectors (B, T, D) with pads set to 0, mask (B, T)).

    Models keep the nn.Embedding itself as `model.embedding` (so the training loop can freeze it
    or give it its own learning rate) and call this in forward.
    """
    mask = padding_mask(lengths.to(ids.device), ids.shape[1])
    vectors = dropout(embedding(ids)) * mask.unsqueeze(-1).to(embedding.weight.dtype)
    return vectors, mask
