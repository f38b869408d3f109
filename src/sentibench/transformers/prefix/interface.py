"""Prefix tuning for encoders that call attention through transformers' AttentionInterface
(BERT, RoBERTa, XLM-R, DistilBERT, ELECTRA): one more attention implementation joins each
layer's prefix to its keys and values and calls the stock SDPA attention."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sentibench.transformers.architectures import HFModel
from sentibench.transformers.prefix.core import PrefixEncoder, PrefixHandle, extend_mask

ATTENTION_NAME = "sentibench_prefix"


def prefix_sdpa_attention(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """SDPA attention with the module's prefix joined to keys and values, (B, heads, T, d)."""
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    handle: PrefixHandle | None = getattr(module, "prefix_handle", None)
    if handle is not None:
        prefix_key, prefix_value = handle.key_value(key.shape[0], key.shape[1], key.dtype)
        key = torch.cat([prefix_key, key], dim=2)
        value = torch.cat([prefix_value, value], dim=2)
        attention_mask = extend_mask(attention_mask, prefix_key.shape[2])
    return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)


def _register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, prefix_sdpa_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)


def _pretrained_models(model: nn.Module) -> list[Any]:
    from transformers import PreTrainedModel

    return [m for m in model.modules() if isinstance(m, PreTrainedModel)]


def install_interface_prefix(model: HFModel, names: list[str], encoder: PrefixEncoder) -> None:
    """Link each attention module (by name) to its layer's prefix; switch to our attention."""
    _register_attention()
    for layer, name in enumerate(names):
        model.get_submodule(name).prefix_handle = PrefixHandle(encoder, layer)
    for pretrained in _pretrained_models(model):
        pretrained.set_attn_implementation(ATTENTION_NAME)
