"""Prefix tuning (Li & Liang 2021) for encoders, implemented by the project.

What it is: every attention layer l gets P learned key vectors K_l and value vectors V_l
(one per head, already projected), placed before the real tokens' keys and values:

    attention_l(x) = softmax(q(x) [K_l ; k(x)]^T / sqrt(d)) [V_l ; v(x)]

Real tokens attend to the P prefix slots in every layer; the prefix slots themselves are not
tokens (they have no query and no hidden state), so the sequence length, the positions and the
outputs stay those of the real tokens. The backbone is frozen: only the prefixes and the
classification head train. With `projection_hidden > 0` the prefixes are reparameterised as in
Li & Liang (and peft's PrefixEncoder): a P x H embedding -> Linear(H, m) -> tanh ->
Linear(m, L * 2 * H), one MLP shared by all layers, which trains more stably than free vectors.

Why our own: peft implements prefix tuning by handing the model `past_key_values`; DeBERTa has
never accepted them ("Model does not support past key values"), and with transformers 5 neither
do the BERT-family encoders (their attention takes a cache only when used as decoders). So the
project joins the prefixes itself, in one of two ways (see architectures.ARCHITECTURES):

  interface  BERT, RoBERTa, DistilBERT, ELECTRA: these call attention through transformers'
             AttentionInterface. We register one more implementation, "sentibench_prefix", that
             concatenates the layer's prefix to the keys/values, widens the mask by P always-
             visible columns, and calls the stock SDPA attention. Nothing else changes.
  deberta    DeBERTa-v2/v3 computes attention itself (disentangled attention with relative
             positions); prefix/deberta.py installs a subclass of its attention module.
  (interface: prefix/interface.py.)

Each attention module holds a PrefixHandle: a non-owning link (layer index + the shared
PrefixEncoder, which is registered once, on PrefixTunedModel). The layer computes its own prefix
from the parameters on every call, so gradient checkpointing can recompute it in backward.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from sentibench.errors import ConfigError, SentibenchError
from sentibench.transformers.architectures import HFModel, architecture

CONFIG_FILE = "prefix_config.json"
WEIGHTS_FILE = "prefix_model.safetensors"


class PrefixEncoder(nn.Module):
    """Per-layer prefix keys and values, free or produced by a shared MLP."""

    def __init__(
        self, num_layers: int, width: int, num_virtual_tokens: int, projection_hidden: int = 0
    ) -> None:
        super().__init__()
        self.num_layers, self.width, self.num_virtual_tokens = num_layers, width, num_virtual_tokens
        self.projection_hidden = projection_hidden
        if projection_hidden > 0:
            self.embedding = nn.Embedding(num_virtual_tokens, width)
            self.hidden = nn.Linear(width, projection_hidden)
            self.out = nn.Linear(projection_hidden, num_layers * 2 * width)
        else:
            # N(0, 1) like peft's prefix embedding without projection.
            self.key_value = nn.Parameter(torch.randn(num_layers, 2, num_virtual_tokens, width))

    def layer_key_value(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys, values) of one layer, each (P, width)."""
        if self.projection_hidden <= 0:
            return self.key_value[layer, 0], self.key_value[layer, 1]
        hidden = torch.tanh(self.hidden(self.embedding.weight))
        # Only this layer's rows of the output matrix: the MLP is shared, the work is not repeated.
        rows = slice(layer * 2 * self.width, (layer + 1) * 2 * self.width)
        out = nn.functional.linear(hidden, self.out.weight[rows], self.out.bias[rows])
        return out[:, : self.width], out[:, self.width :]


class PrefixHandle:
    """What an attention module knows of the prefix: its layer and the shared encoder.

    A plain object, not an nn.Module, so that the encoder's parameters are registered once.
    """

    def __init__(self, encoder: PrefixEncoder, layer: int) -> None:
        self.encoder = encoder
        self.layer = layer

    def key_value(
        self, batch: int, heads: int, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys, values) shaped (batch, heads, P, head_dim), in the attention's dtype."""
        key, value = self.encoder.layer_key_value(self.layer)

        def split(x: torch.Tensor) -> torch.Tensor:
            x = x.to(dtype).view(x.shape[0], heads, x.shape[1] // heads)
            x = x.transpose(0, 1)  # (heads, P, d)
            return x.unsqueeze(0).expand(batch, -1, -1, -1)

        return split(key), split(value)


def extend_mask(mask: torch.Tensor | None, prefix_length: int) -> torch.Tensor | None:
    """Add `prefix_length` visible key columns in front of a (..., queries, keys) mask."""
    if mask is None:
        return None
    shape = (*mask.shape[:-1], prefix_length)
    if mask.dtype == torch.bool:
        visible = torch.ones(shape, dtype=torch.bool, device=mask.device)
    elif mask.is_floating_point():  # additive mask: 0 = attend
        visible = torch.zeros(shape, dtype=mask.dtype, device=mask.device)
    else:  # 0/1 integer mask
        visible = torch.ones(shape, dtype=mask.dtype, device=mask.device)
    return torch.cat([visible, mask], dim=-1)


def _install(model: HFModel, encoder_factory: Any) -> PrefixEncoder:
    """Find the attention modules, build the encoder for them, and link each one to it."""
    model_type = model.config.model_type
    arch = architecture(model_type)
    if arch is None:
        raise ConfigError(
            f"method 'prefix' supports {', '.join(_supported())}, not model type '{model_type}'."
        )
    named = [(n, m) for n, m in model.named_modules() if type(m).__name__ == arch.self_attention]
    if not named:
        raise SentibenchError(f"No {arch.self_attention} modules in this {model_type} model.")
    first = named[0][1]
    width = getattr(first, "all_head_size", None) or first.dim  # DistilBERT calls it dim
    encoder = encoder_factory(len(named), width)
    # The installer is named in the architectures table: imported here, never the other way.
    module_name, _, function = arch.prefix_installer.partition(":")
    install = getattr(importlib.import_module(module_name), function)
    install(model, [n for n, _ in named], encoder)
    return encoder


def _supported() -> list[str]:
    from sentibench.transformers.architectures import ARCHITECTURES

    return sorted(ARCHITECTURES)


class PrefixTunedModel(nn.Module):
    """A sequence classifier with a frozen backbone, trained prefixes and a trained head."""

    def __init__(
        self,
        model: HFModel,
        num_virtual_tokens: int,
        projection_hidden: int,
        trainable_modules: list[str],
    ) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.settings = {
            "num_virtual_tokens": num_virtual_tokens,
            "projection_hidden": projection_hidden,
            "trainable_modules": list(trainable_modules),
        }
        self.prefix = _install(
            model,
            lambda layers, width: PrefixEncoder(
                layers, width, num_virtual_tokens, projection_hidden
            ),
        )
        self.prefix.to(next(model.parameters()).device)
        model.requires_grad_(False)
        for name in trainable_modules:
            model.get_submodule(name).requires_grad_(True)

    def forward(self, **inputs: Any) -> Any:
        return self.model(**inputs)

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        self.model.gradient_checkpointing_enable(**kwargs)

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        trainable = {n for n, p in self.named_parameters() if p.requires_grad}
        return {n: t for n, t in self.state_dict().items() if n in trainable}

    def save_pretrained(self, directory: Path) -> None:
        """prefix_config.json + prefix_model.safetensors (prefixes and head): an adapter folder."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {k: v.detach().contiguous().cpu() for k, v in self.trainable_state_dict().items()}
        save_file(tensors, directory / WEIGHTS_FILE)
        config = {"model_type": self.config.model_type, **self.settings}
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(cls, directory: Path, model: HFModel) -> PrefixTunedModel:
        directory = Path(directory)
        settings = json.loads((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        settings.pop("model_type", None)
        wrapped = cls(model, **settings)
        saved = load_file(str(directory / WEIGHTS_FILE))
        expected = set(wrapped.trainable_state_dict())
        if set(saved) != expected:
            missing = sorted(expected - set(saved)) or sorted(set(saved) - expected)
            raise SentibenchError(
                f"{directory / WEIGHTS_FILE} does not match the model ({missing[0]})."
            )
        wrapped.load_state_dict(saved, strict=False)
        return wrapped
