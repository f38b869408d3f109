"""Matrix-product FLOPs of a BERT-style encoder: what model FLOPs utilisation (MFU) counts.

Per layer, for a review of n tokens and hidden size h, intermediate size i (2 FLOPs per
multiply-add):

    projections  Q, K, V and the output:  4 x 2 n h^2
    feed-forward up and down:             2 x 2 n h i
    attention    Q K^T and scores x V:    2 x 2 n^2 h

The embeddings are lookups and the classification head is one small product per review (under
0.1% of a layer at 256 tokens), so neither is counted. Only real tokens count: padding is
compute the model did not need, which is what MFU should expose. Training = 3 x forward (the
backward pass is two products per forward product: gradients of inputs and of weights), true
when every layer trains (method full).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def encoder_forward_flops(config: Any, lengths: Iterable[int]) -> int:
    """FLOPs of one forward pass over reviews of these token counts, for a Hugging Face config
    with hidden_size, num_hidden_layers and intermediate_size (BERT, RoBERTa, MiniLM, ...)."""
    h, i = int(config.hidden_size), int(config.intermediate_size)
    total = 0
    for n in lengths:
        per_layer = 4 * 2 * n * h * h + 2 * 2 * n * h * i + 2 * 2 * n * n * h
        total += int(config.num_hidden_layers) * per_layer
    return total


def encoder_training_flops(config: Any, lengths: Iterable[int]) -> int:
    """FLOPs of one training step (forward + backward) over reviews of these token counts."""
    return 3 * encoder_forward_flops(config, lengths)
