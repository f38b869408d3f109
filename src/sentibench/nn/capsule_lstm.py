"""BiLSTM + capsules with dynamic routing (Sabour et al. 2017; for text: Zhao et al. 2018).

    ids (B, T) -> vectors -> BiLSTM (rnn.BiRNN) -> u (B, T, 2H): one primary capsule per token
    u_hat[b, t, j] = W_j u_t          (B, T, J, K)  W (J, 2H, K) shared over time (Zhao et al.)
    routing, r iterations, logits b (B, T, J) starting at 0:
        c = softmax of b over the J output capsules, set to 0 at padded tokens
        s_j = sum_t c_tj u_hat_tj                       (B, J, K)  real tokens only
        v_j = squash(s_j) = |s|^2 / (1 + |s|^2) * s / |s|   length in [0, 1), direction kept
        b  += <u_hat_tj, v_j>                           agreement (not after the last iteration)
    -> v flattened (B, J * K) -> dropout -> Linear -> logits (B, k)

The original project's "squash" normalised to unit length, so every capsule had length 1 whatever
its evidence and the model predicted one class. Here a capsule's length grows with its evidence.

Parameters with 50-d vectors, H = 128, J = 10 capsules of K = 16: 184,320 (BiLSTM) +
10 * 256 * 16 = 40,960 (W) + 160 * 2 + 2 = 322 (classifier) = 225,602.
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
    capsules: int = field(default=10, metadata={"help": "output capsules J (published: 5)"})
    capsule_dim: int = field(
        default=16, metadata={"help": "length K of each output capsule vector (Sabour: 16)"}
    )
    routings: int = field(
        default=3, metadata={"help": "routing iterations; Sabour et al. found 3 enough"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "capsules", "capsule_dim", "routings")


def squash(s: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Sabour et al.'s squash over the last axis: short vectors shrink to ~0, long ones to ~1."""
    squared_norm = (s * s).sum(dim=-1, keepdim=True)
    return squared_norm / (1.0 + squared_norm) * s / torch.sqrt(squared_norm + eps)


class CapsuleLayer(nn.Module):
    """Route T primary capsules (B, T, C) of real tokens into J output capsules (B, J, K)."""

    def __init__(self, in_size: int, capsules: int, capsule_dim: int, routings: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(capsules, in_size, capsule_dim))
        nn.init.xavier_uniform_(self.weight)
        self.routings = routings

    def forward(self, u: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        u_hat = torch.einsum("btc,jck->btjk", u, self.weight)  # predictions of each token
        logits = u_hat.new_zeros(u_hat.shape[:3])  # (B, T, J): uniform coupling at the start
        real = mask.unsqueeze(-1).to(u_hat.dtype)  # (B, T, 1)
        for iteration in range(self.routings):
            coupling = logits.softmax(dim=2) * real  # over capsules; pads get 0
            v = squash(torch.einsum("btj,btjk->bjk", coupling, u_hat))
            if iteration < self.routings - 1:
                logits = logits + torch.einsum("btjk,bjk->btj", u_hat, v)
        return v


class CapsuleLSTM(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        self.encoder = config.encoder(embedding.embedding_dim)
        self.capsules = CapsuleLayer(
            self.encoder.output_size, config.capsules, config.capsule_dim, config.routings
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.capsules * config.capsule_dim, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        outputs, _ = self.encoder(vectors, lengths)
        v = self.capsules(outputs, mask)  # (B, J, K)
        return self.classifier(self.dropout(v.flatten(1)))


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> CapsuleLSTM:
    return CapsuleLSTM(
        config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes
    )
