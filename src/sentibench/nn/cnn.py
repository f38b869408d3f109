"""Kim (2014) CNN: parallel convolutions of several widths, max over time, dropout, linear.

    ids (B, T) -> vectors (B, T, D) -> for each width k: Conv1d(D -> F, k) -> max over time
    -> concat (B, len(widths) * F) -> dropout -> Linear -> logits (B, k)

With 50-d vectors, widths 3/4/5 and 100 filters: 50 * 100 * (3 + 4 + 5) + 300 = 60,300 conv
weights and 300 * 2 + 2 = 602 in the classifier: 60,902; a 20k x 50 embedding is 1,000,000.

Padding never changes a logit: pads are zeroed, every row is right-padded with max(widths) - 1
zeros so that even a 1-token review has a window of every width, and only windows that START
on a real token take part in the max (windows that start on padding are set to -inf). A window
that starts at real token t sees tokens t..t+k-1 with zeros past the end, the same zeros
whatever T is, so the logits of a row do not depend on how much padding its batch has.
(The original project had one width, 3, and took the max over padded positions too.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sentibench.errors import ConfigError
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
    widths: list[int] = field(
        default_factory=lambda: [3, 4, 5],
        metadata={"help": "convolution widths in tokens (Kim 2014: 3, 4, 5)"},
    )
    filters: int = field(
        default=100, metadata={"help": "filters per width (Kim 2014: 100 per width)"}
    )
    dropout: float = field(
        default=0.5, metadata={"help": "dropout before the classifier (Kim 2014: 0.5)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.widths or any(w < 1 for w in self.widths):
            raise ConfigError(f"Config key 'widths' must list positive widths, got {self.widths}.")
        require_positive(self, "filters")
        require_probability(self, "dropout")


class KimCNN(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        dim = embedding.embedding_dim
        self.convs = nn.ModuleList(nn.Conv1d(dim, config.filters, w) for w in config.widths)
        self.max_width = max(config.widths)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(len(config.widths) * config.filters, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        # (B, T, D) -> (B, D, T + max_width - 1): zeros on the right so every start has a window.
        x = F.pad(vectors.transpose(1, 2), (0, self.max_width - 1))
        pooled = []
        for conv in self.convs:
            out = conv(x)  # (B, F, T + max_width - k) with T + max_width - k >= T starts
            starts = out[:, :, : ids.shape[1]].transpose(1, 2)  # window i starts at token i
            pooled.append(masked_max(starts, mask))  # (B, F), starts on padding excluded
        # ReLU after the max equals Kim's ReLU before it (ReLU is monotone) on T times fewer values
        features = F.relu(torch.cat(pooled, dim=1))
        return self.classifier(self.dropout(features))


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> KimCNN:
    return KimCNN(config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes)
