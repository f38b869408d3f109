"""Convolution over time, then a BiLSTM over the convolved time steps.

    ids (B, T) -> vectors (B, T, D) -> Conv1d(D -> F, k, 'same' padding) -> ReLU  (B, F, T)
    -> max-pool 2 over time (optional)        (B, F, ceil(T / 2)), lengths -> ceil(L / 2)
    -> BiLSTM (rnn.BiRNN) over the ceil(L / 2) steps of F features -> final states (B, 2H)
    -> dropout -> Linear -> logits (B, k)

The original project transposed the wrong way and ran its LSTM over the 128 filter channels as
if they were time steps; here the LSTM reads time, and the pooling halves its steps (a 256-token
review is 128 LSTM steps), which is what makes this model cheaper than the plain BiLSTM.

Padding never changes a logit: pads are zeroed before the convolution (so the 'same' padding at
the end of the tensor and pad tokens look alike), conv outputs past a row's length are zeroed
after the ReLU (0 never wins a max against a ReLU output), pooling uses ceil_mode so an odd last
token keeps its window, and the BiLSTM is given the pooled lengths.

Parameters with 50-d vectors, 128 filters of width 3, H = 128: 50 * 128 * 3 + 128 = 19,328 (conv)
+ 2 * 4 * (128 * (128 + 128) + 2 * 128) = 264,192 (BiLSTM) + 514 (classifier) = 284,034.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from sentibench.errors import ConfigError
from sentibench.nn.embedding import (
    SpatialDropout,
    embed,
    pretrained_embedding,
    require_positive,
)
from sentibench.nn.rnn import RecurrentOptions


@dataclass
class Config(RecurrentOptions):
    filters: int = field(default=128, metadata={"help": "convolution filters (published: 128)"})
    kernel_size: int = field(
        default=3, metadata={"help": "odd convolution width in tokens, centred on each token"}
    )
    pool: bool = field(
        default=True,
        metadata={"help": "max-pool pairs of steps (stride 2): half the LSTM steps"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "filters", "kernel_size")
        if self.kernel_size % 2 == 0:
            raise ConfigError(
                f"Config key 'kernel_size' must be odd so the convolution is centred, "
                f"got {self.kernel_size}."
            )


class CNNLSTM(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        self.conv = nn.Conv1d(
            embedding.embedding_dim, config.filters, config.kernel_size,
            padding=config.kernel_size // 2,
        )  # fmt: skip
        self.pool = config.pool
        self.encoder = config.encoder(config.filters)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(self.encoder.output_size, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        features = F.relu(self.conv(vectors.transpose(1, 2)))  # (B, F, T): channels x time
        features = features * mask.unsqueeze(1).to(features.dtype)  # 0 past each row's end
        if self.pool:
            features = F.max_pool1d(features, kernel_size=2, stride=2, ceil_mode=True)
            lengths = (lengths + 1) // 2  # ceil(L / 2) pooled steps hold real tokens
        steps = features.transpose(1, 2)  # (B, T', F): the LSTM reads time, not channels
        _, final = self.encoder(steps, lengths)
        return self.classifier(self.dropout(final))


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> CNNLSTM:
    return CNNLSTM(config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes)
