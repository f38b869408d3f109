"""Prefix tuning for DeBERTa-v2/v3: prefixes joined inside disentangled self-attention.

DeBERTa scores a query token i against a key token j with three terms (He et al. 2021):

    A_ij = q_i . k_j  +  q_i . k^r_{delta(i,j)}  +  k_j . q^r_{delta(j,i)}
           content->content  content->position (c2p)  position->content (p2c)

divided by sqrt(d * (1 + #relative terms)), where delta is the (log-bucketed) relative distance
and k^r / q^r are projections of the relative-position embeddings. peft cannot add prefixes here
(no past_key_values), so PrefixDisentangledSelfAttention does, for a layer with prefix keys
K (P x d per head) and values V:

  - scores of real tokens against real tokens are computed exactly as DeBERTa does (the
    transformers implementation of c2p/p2c is called unchanged, on the real keys only);
  - scores against the P prefix slots are content->content only, q_i . K_p / scale: a prefix
    slot has no position, so it gets no relative-position term;
  - the two blocks are concatenated along the key axis as [prefix | real], the values as
    [V ; v(x)], and the (B, 1, N, N) attention mask gets P always-visible columns in front,
    so every real token attends to the prefix and padding stays masked.

Outputs keep the real tokens' length; the rest of DeBERTa (ConvLayer, pooler, z_steps) is
untouched. Without a handle the module is exactly DeBERTa's attention (it calls the parent).
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.deberta_v2.modeling_deberta_v2 import (
    DisentangledSelfAttention,
    scaled_size_sqrt,
)

from sentibench.transformers.architectures import HFModel
from sentibench.transformers.prefix.core import PrefixEncoder, PrefixHandle, extend_mask


class PrefixDisentangledSelfAttention(DisentangledSelfAttention):
    prefix_handle: PrefixHandle | None = None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_attentions: bool = False,
        query_states: torch.Tensor | None = None,
        relative_pos: torch.Tensor | None = None,
        rel_embeddings: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.prefix_handle is None:
            return super().forward(
                hidden_states, attention_mask, output_attentions, query_states, relative_pos,
                rel_embeddings,
            )  # fmt: skip
        if query_states is None:
            query_states = hidden_states
        heads = self.num_attention_heads
        # (B * heads, N, d), batch-major: row b * heads + h
        query = self.transpose_for_scores(self.query_proj(query_states), heads)
        key = self.transpose_for_scores(self.key_proj(hidden_states), heads)
        value = self.transpose_for_scores(self.value_proj(hidden_states), heads)

        scale_factor = 1 + ("c2p" in self.pos_att_type) + ("p2c" in self.pos_att_type)
        scale = scaled_size_sqrt(query, scale_factor).to(dtype=query.dtype)
        scores = torch.bmm(query, key.transpose(-1, -2) / scale)
        if self.relative_attention:
            scores = scores + self.disentangled_attention_bias(
                query, key, relative_pos, self.pos_dropout(rel_embeddings), scale_factor
            )

        batch = hidden_states.size(0)
        prefix_key, prefix_value = self.prefix_handle.key_value(batch, heads, query.dtype)
        prefix_length = prefix_key.shape[2]
        prefix_key = prefix_key.reshape(batch * heads, prefix_length, query.size(-1))
        prefix_value = prefix_value.reshape(batch * heads, prefix_length, value.size(-1))
        prefix_scores = torch.bmm(query, prefix_key.transpose(-1, -2) / scale)  # content only
        scores = torch.cat([prefix_scores, scores], dim=-1)  # (B * heads, N, P + N)
        value = torch.cat([prefix_value, value], dim=1)

        scores = scores.view(-1, heads, scores.size(-2), scores.size(-1))
        mask = extend_mask(attention_mask.bool(), prefix_length)
        assert mask is not None  # a mask in, a wider mask out
        scores = scores.masked_fill(~mask, torch.finfo(query.dtype).min)
        probs = self.dropout(nn.functional.softmax(scores, dim=-1))
        context = torch.bmm(probs.view(-1, probs.size(-2), probs.size(-1)), value)
        context = context.view(-1, heads, context.size(-2), context.size(-1))
        context = context.permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size()[:-2] + (-1,))
        return context, (probs if output_attentions else None)


def install_deberta_prefix(model: HFModel, names: list[str], encoder: PrefixEncoder) -> None:
    """Replace each DisentangledSelfAttention (by module name) with the prefix version."""
    for layer, name in enumerate(names):
        old = model.get_submodule(name)
        new = PrefixDisentangledSelfAttention(model.config)
        new.load_state_dict(old.state_dict())
        weight = next(old.parameters())
        new.to(device=weight.device, dtype=weight.dtype).train(old.training)
        new.prefix_handle = PrefixHandle(encoder, layer)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name), child, new)
