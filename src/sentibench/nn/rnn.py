"""Bidirectional LSTM / GRU that never reads padding: the registry's `lstm` and `gru`.

    ids (B, T) -> vectors (B, T, D) -> BiLSTM/BiGRU whose states never see a pad (BiRNN below)
    -> [h_forward ; h_backward] of the top layer (B, 2H)
       (+ masked max and mean of the outputs over time when pool_outputs: (B, 6H))
    -> dropout -> Linear -> logits (B, k)

The original project padded every review to 512 words and ran the RNN over all of them: a 200-word
review spent 312 of its 512 steps reading padding, and its backward direction read all 312 pads
before reaching a word. Here the forward final state is taken at the last real token and the
backward direction starts there, so a row gives the same logits however much padding it has.

Parameters with 50-d vectors, H = 128, 1 layer: an LSTM direction has 4 * (128 * (50 + 128) +
2 * 128) = 92,160, so 184,320 for both, + 514 in the classifier; a GRU has 3/4 of that.

`BiRNN` is also the encoder of attention_lstm, capsule_lstm and cnnlstm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from sentibench.nn.embedding import (
    EmbeddingOptions,
    SpatialDropout,
    embed,
    masked_max,
    masked_mean,
    padding_mask,
    pretrained_embedding,
    require_positive,
    require_probability,
)


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse the first lengths[b] steps of each row of x (B, T, C); pad steps stay put.

    Row [a b c PAD PAD] becomes [c b a PAD PAD]. Applying it twice gives x back.
    """
    steps = torch.arange(x.shape[1], device=x.device)
    source = lengths.unsqueeze(1) - 1 - steps  # (B, T): real step t reads step L - 1 - t
    source = torch.where(source >= 0, source, steps)  # pad steps read themselves
    return x.gather(1, source.unsqueeze(-1).expand_as(x))


class BiRNN(nn.Module):
    """A bidirectional LSTM/GRU whose states never see a padded step.

    forward(x (B, T, D), lengths (B)) -> outputs (B, T, 2H), zeros at padded steps,
                                          final (B, 2H) = top layer's [forward ; backward] state.

    Pads sit at the end of each row, so a left-to-right RNN reaches every real step before any
    pad: its outputs at real steps and its state at step L - 1 ignore the padding. The
    right-to-left direction is the same RNN run over each row reversed within its length
    ([a b c PAD] -> [c b a PAD]). That is what pack_padded_sequence computes, but it keeps the
    fused oneDNN / cuDNN kernels: torch's packed path on CPU slices a per-step input whose
    backward zero-fills the whole input at every step. Measured (torch 2.13 CPU, 1 thread on 2
    busy cores, denormals flushed, B 64, T <= 256, D 50, H 128): packed BiLSTM backward 11.6 s,
    this one 0.7 s. The price is computing (and discarding) pad steps up to the batch's longest
    row, which length bucketing keeps small.

    On CPU, gradients vanishing through hundreds of steps turn denormal and slow every float op;
    the same full lstm step took 5.6 s instead of 0.83 s until torch.set_flush_denormal(True)
    (a process-wide switch the training loop sets, not the model).
    """

    def __init__(
        self, cell: str, input_size: int, hidden: int, layers: int, dropout: float
    ) -> None:
        super().__init__()
        rnn_cls = nn.LSTM if cell == "lstm" else nn.GRU
        sizes = [input_size] + [2 * hidden] * (layers - 1)
        self.forward_rnns = nn.ModuleList(rnn_cls(n, hidden, batch_first=True) for n in sizes)
        self.backward_rnns = nn.ModuleList(rnn_cls(n, hidden, batch_first=True) for n in sizes)
        self.dropout = nn.Dropout(dropout)  # between stacked layers, as nn.LSTM's dropout
        self.hidden = hidden
        self.output_size = 2 * hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        lengths = lengths.to(x.device)
        real = padding_mask(lengths, x.shape[1]).unsqueeze(-1)
        for layer, (forward_rnn, backward_rnn) in enumerate(
            zip(self.forward_rnns, self.backward_rnns, strict=True)
        ):
            if layer:
                x = self.dropout(x)
            left_to_right, _ = forward_rnn(x)
            right_to_left_reversed, _ = backward_rnn(reverse_within_lengths(x, lengths))
            right_to_left = reverse_within_lengths(right_to_left_reversed, lengths)
            x = torch.cat([left_to_right, right_to_left], dim=2) * real.to(left_to_right.dtype)
        # Final states: both directions' outputs after their last real step, L - 1.
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, self.hidden)
        final = torch.cat(
            [left_to_right.gather(1, last), right_to_left_reversed.gather(1, last)], 2
        )
        return x, final.squeeze(1)


@dataclass
class RecurrentOptions(EmbeddingOptions):
    """Fields of every model built on BiRNN (lstm, gru, attention, capsule, cnnlstm)."""

    hidden: int = field(
        default=128,
        metadata={"help": "hidden units per direction; 128 keeps a CPU epoch to minutes"},
    )
    layers: int = field(default=1, metadata={"help": "stacked layers; one keeps CPU epochs short"})
    rnn_dropout: float = field(
        default=0.0, metadata={"help": "dropout between stacked layers (only if layers > 1)"}
    )
    dropout: float = field(default=0.5, metadata={"help": "dropout before the classifier"})

    def __post_init__(self) -> None:
        super().__post_init__()
        require_positive(self, "hidden", "layers")
        require_probability(self, "rnn_dropout", "dropout")

    def encoder(self, input_size: int, cell: str = "lstm") -> BiRNN:
        return BiRNN(cell, input_size, self.hidden, self.layers, self.rnn_dropout)


@dataclass
class Config(RecurrentOptions):
    cell: Literal["lstm", "gru"] = field(
        default="lstm", metadata={"help": "recurrent cell: lstm or gru (GRU is 3/4 the size)"}
    )
    pool_outputs: bool = field(
        default=False,
        metadata={
            "help": "also feed masked max and mean of all outputs (ULMFiT concat pooling), "
            "not only the final states"
        },
    )


class BiRNNClassifier(nn.Module):
    def __init__(self, config: Config, embedding: nn.Embedding, n_classes: int = 2) -> None:
        super().__init__()
        self.embedding = embedding
        self.embedding_dropout = SpatialDropout(config.embedding_dropout)
        self.encoder = config.encoder(embedding.embedding_dim, config.cell)
        self.pool_outputs = config.pool_outputs
        features = self.encoder.output_size * (3 if config.pool_outputs else 1)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(features, n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors, mask = embed(self.embedding, self.embedding_dropout, ids, lengths)
        outputs, final = self.encoder(vectors, lengths)
        if self.pool_outputs:
            final = torch.cat([final, masked_max(outputs, mask), masked_mean(outputs, mask)], 1)
        return self.classifier(self.dropout(final))


def build(
    config: Config,
    vectors: torch.Tensor,
    pad_index: int,
    freeze_embeddings: bool,
    n_classes: int = 2,
) -> BiRNNClassifier:
    return BiRNNClassifier(
        config, pretrained_embedding(vectors, pad_index, freeze_embeddings), n_classes
    )
