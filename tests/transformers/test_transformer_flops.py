"""The matrix-product FLOP count behind MFU (transformers/flops.py), against a hand count and
against torch's own FLOP counter on a tiny BERT."""

from __future__ import annotations

import torch
from transformer_fixtures import tiny_config

from sentibench.transformers.flops import encoder_forward_flops, encoder_training_flops


def test_flops_of_a_tiny_bert_match_a_hand_count():
    config = tiny_config("bert")  # hidden 32, 2 layers, intermediate 37
    # per token and layer: Q, K, V, output 4 x 2 x 32 x 32 = 8192; feed-forward 2 x 2 x 32 x 37
    # = 4736; 8 tokens -> 103,424; attention 2 x 2 x 32 x (3^2 + 5^2) = 4,352; x 2 layers
    assert encoder_forward_flops(config, [3, 5]) == 2 * (8 * (8192 + 4736) + 4352) == 215_552
    assert encoder_training_flops(config, [3, 5]) == 3 * 215_552


def test_flops_agree_with_torchs_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import BertModel

    config = tiny_config("bert")
    config._attn_implementation = "eager"  # attention as two matmuls torch can count
    model = BertModel(config, add_pooling_layer=False).eval()  # no head: not counted by ours
    ids = torch.randint(5, config.vocab_size, (1, 11))
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids)
    assert counter.get_total_flops() == encoder_forward_flops(config, [11])
