"""A toy classic net: all a new architecture needs is this one file and one registry line.

    ids (B, T) -> vectors (B, T, D) -> ReLU(Linear(D -> hidden)) per token
    -> max over the real tokens (B, hidden) -> dropout -> Linear -> logits (B, 2)

tests/model_battery.py registers it (one `register(ModelSpec(...))`) for the tests named with
it, and the whole battery (nn, presets, round trip, export) runs on it as on the seven nets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from sentibench.nn.embedding import (
    EmbeddingOptions,
    SpatialDropout,
    embed,
    masked_max,
    pretrained_embedding,
    require_positive,
    require_probability,
)


@dataclass
class Config(EmbeddingOptions):
    hidden: int = field(default=16, metadata={"help": "features per token"})
    dropout: float = field(default=0.1, metadata={"help": "dropout before the classifier"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "hidden")
        require_probability(self, "dropout")


class ToyNet(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        self.features = nn.Linear(embedding.embedding_dim, config.hidden)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.hidden, 2)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        pooled = masked_max(torch.relu(self.features(vectors)), mask)  # pads never read
        return self.classifier(self.dropout(pooled))


def build(config: Config, vectors: torch.Tensor, pad_index: int, freeze_embeddings: bool) -> ToyNet:
    return ToyNet(config, pretrained_embedding(vectors, pad_index, freeze_embeddings))
