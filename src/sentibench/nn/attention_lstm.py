"""BiLSTM with additive attention over time (Bahdanau-style scoring, Yang et al. 2016 pooling).

    ids (B, T) -> vectors -> BiLSTM (rnn.BiRNN, pads unseen) -> h (B, T, 2H)
    score_t = v^T tanh(W h_t + b)                        (B, T)
    alpha   = softmax over TIME of score, pads set to -inf  (each row sums to 1 over its tokens)
    context = sum_t alpha_t h_t                          (B, 2H) -> dropout -> Linear -> (B, k)

The original project took this softmax over the batch axis, so a review's weights depended on the
other reviews in its batch and did not sum to one over its own words. Here pads get exactly zero
weight.

Parameters with 50-d vectors, H = 128, attention 128: 184,320 (BiLSTM) + 256 * 128 + 128
(W, b) + 128 (v) + 514 (classifier) = 217,858.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from sentibench.nn.embedding import (
    SpatialDropout,
    embed,
    pretrained_embedding,
    require_positive,
)
from sentibench.nn.rnn import RecurrentOptions


@dataclass
class Config(RecurrentOptions):
    attention_dim: int = field(
        default=128, metadata={"help": "width of the tanh layer that scores each time step"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "attention_dim")


class AdditiveAttention(nn.Module):
    """Masked additive attention pooling: (h (B, T, C), mask (B, T)) -> (context (B, C), alpha)."""

    def __init__(self, size: int, attention_dim: int) -> None:
        super().__init__()
        self.project = nn.Linear(size, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)  # v; a bias would cancel in softmax

    def forward(self, h: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.score(torch.tanh(self.project(h))).squeeze(-1)  # (B, T)
        alpha = scores.masked_fill(~mask, float("-inf")).softmax(dim=1)  # dim 1 = time
        return torch.einsum("bt,btc->bc", alpha, h), alpha


class AttentionLSTM(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        self.encoder = config.encoder(embedding.embedding_dim)
        self.attention = AdditiveAttention(self.encoder.output_size, config.attention_dim)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(self.encoder.output_size, n_classes)

    def attend(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (B, k) and attention weights (B, T), zero at pads (for explaining predictions)."""
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        outputs, _ = self.encoder(vectors, lengths)
        context, alpha = self.attention(outputs, mask)
        return self.classifier(self.dropout(context)), alpha

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.attend(ids, lengths)[0]


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> AttentionLSTM:
    return AttentionLSTM(
        config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes
    )
