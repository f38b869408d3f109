"""A small Transformer encoder trained from scratch on top of pretrained word vectors.

    ids (B, T) -> word vectors (B, T, D) -> Linear D -> d_model (only if D != d_model)
    -> + positions (learned table or sinusoids) -> dropout
    -> nn.TransformerEncoder: pre-norm layers, GELU, key-padding mask (pads are never attended to)
    -> final LayerNorm -> mean over real tokens -> dropout -> Linear -> logits (B, k)

The original project pooled the LAST token, which for a review padded at the end is a pad; here
the mean runs over real tokens only.

Parameters with 50-d vectors and the defaults (d_model 128, 2 layers, 4 heads, ffn 256, 512
learned positions): projection 50 * 128 + 128 = 6,528; positions 512 * 128 = 65,536; per layer
attention 4 * (128 * 128 + 128) = 66,048 + ffn 2 * 128 * 256 + 256 + 128 = 65,920 + two
LayerNorms 512 = 132,480, so 264,960 for 2; final LayerNorm 256; classifier 258: 337,538.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from sentibench.errors import ConfigError
from sentibench.nn.embedding import (
    EmbeddingOptions,
    SpatialDropout,
    embed,
    masked_mean,
    pretrained_embedding,
    require_positive,
    require_probability,
)


@dataclass
class Config(EmbeddingOptions):
    d_model: int = field(
        default=128, metadata={"help": "model width; 128 keeps a CPU epoch within minutes"}
    )
    layers: int = field(default=2, metadata={"help": "encoder layers (published: 4)"})
    heads: int = field(default=4, metadata={"help": "attention heads; must divide d_model"})
    ffn: int = field(default=256, metadata={"help": "feed-forward width (published: 2048)"})
    positions: Literal["learned", "sinusoidal"] = field(
        default="learned",
        metadata={"help": "learned position table, or fixed sinusoids (Vaswani et al. 2017)"},
    )
    max_positions: int = field(
        default=512, metadata={"help": "longest input in tokens; set >= the loop's max_len"}
    )
    attention_dropout: float = field(
        default=0.1, metadata={"help": "dropout inside each layer (Vaswani et al.: 0.1)"}
    )
    dropout: float = field(default=0.3, metadata={"help": "dropout before the classifier"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "d_model", "layers", "heads", "ffn", "max_positions")
        require_probability(self, "attention_dropout", "dropout")
        if self.d_model % self.heads:
            raise ConfigError(
                f"Config key 'heads' ({self.heads}) must divide d_model ({self.d_model})."
            )


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width) table: sin on even dims, cos on odd, wavelengths 2*pi .. 10000*2*pi."""
    position = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(1e4) / width))
    table = torch.zeros(length, width)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: width // 2])
    return table


class TransformerClassifier(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        dim = embedding.embedding_dim
        self.project = nn.Identity() if dim == config.d_model else nn.Linear(dim, config.d_model)
        self.max_positions = config.max_positions
        if config.positions == "learned":
            self.positions = nn.Parameter(torch.randn(config.max_positions, config.d_model) * 0.02)
        else:
            table = sinusoidal_positions(config.max_positions, config.d_model)
            self.register_buffer("positions", table, persistent=False)
        self.input_dropout = nn.Dropout(config.attention_dropout)
        layer = nn.TransformerEncoderLayer(
            config.d_model,
            config.heads,
            dim_feedforward=config.ffn,
            dropout=config.attention_dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,  # pre-norm trains without a long warmup
        )
        # Pre-norm layers leave the residual stream un-normalised: one LayerNorm at the end.
        # Nested tensors are off: torch does not use them with norm_first and warns if asked.
        self.encoder = nn.TransformerEncoder(
            layer, config.layers, norm=nn.LayerNorm(config.d_model), enable_nested_tensor=False
        )
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > self.max_positions:
            raise ConfigError(
                f"A batch has {ids.shape[1]} tokens per row but the transformer has "
                f"max_positions={self.max_positions}; raise max_positions or lower max_len."
            )
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        x = self.project(vectors) + self.positions[: ids.shape[1]]
        hidden = self.encoder(self.input_dropout(x), src_key_padding_mask=~mask)  # True = pad
        return self.classifier(self.dropout(masked_mean(hidden, mask)))


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> TransformerClassifier:
    return TransformerClassifier(
        config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes
    )
