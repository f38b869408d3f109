"""LoRA, P-tuning and prompt tuning through peft, with the classification head trainable.

The head (classifier, plus pooler/pre_classifier where the checkpoint did not provide them) is
listed in `modules_to_save`: peft keeps a trainable copy of it and writes it into the adapter's
safetensors. (The seed's prompt tuning called base_model.requires_grad_(False) after wrapping,
which froze that copy too: its linear head stayed random and it scored 0.515.)

    lora     LoRA (Hu et al. 2021) on the table's attention projections, r/alpha/dropout
    ptuning  P-tuning (Liu et al. 2021): virtual tokens from an MLP PromptEncoder
    prompt   prompt tuning (Lester et al. 2021): virtual token embeddings learned directly

`prompt_init = "vocab"` starts the virtual tokens at the embeddings of random vocabulary
entries (peft's SAMPLE_VOCAB; for P-tuning, the encoder's input embedding is set the same way),
which trains faster than N(0, 1) noise that lies far from every real token.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from sentibench.errors import ConfigError
from sentibench.transformers.architectures import HFModel, head_modules, lora_targets

PEFT_METHODS = ("lora", "ptuning", "prompt")


def trainable_head(model: HFModel, missing_keys: set[str]) -> list[str]:
    """The table's head modules plus every module the checkpoint did not initialise."""
    parameters = dict(model.named_parameters())
    names = {n for n in head_modules(model.config.model_type) if _has_module(model, n)}
    for key in missing_keys:
        if key in parameters:
            names.add(key.rpartition(".")[0])
    # Drop a module whose ancestor is already listed: it trains (and is saved) with the ancestor.
    return sorted(n for n in names if not any(n.startswith(f"{m}.") for m in names if m != n))


def _has_module(model: nn.Module, name: str) -> bool:
    try:
        model.get_submodule(name)
    except AttributeError:
        return False
    return True


def apply_peft(model: HFModel, method: str, config: Any, head: list[str]) -> Any:
    """Wrap `model` in a peft model for `method`; only adapters and `head` train."""
    from peft import (
        LoraConfig,
        PromptEncoderConfig,
        PromptTuningConfig,
        PromptTuningInit,
        TaskType,
        get_peft_model,
    )

    if method == "lora":
        lora_config = LoraConfig(
            task_type=TaskType.SEQ_CLS,
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=lora_targets(model.config.model_type, config.lora_targets),
            modules_to_save=list(head),
        )
        return get_peft_model(model, lora_config)
    if method not in ("ptuning", "prompt"):
        raise ConfigError(f"method {method!r} is not a peft method ({', '.join(PEFT_METHODS)}).")
    # Give peft the sizes (it looks for hidden_size etc. in config.to_dict(), which DistilBERT
    # spells dim, n_layers, n_heads; the attribute names below are aliases on every config).
    embeddings = model.get_input_embeddings()
    common = dict(
        task_type=TaskType.SEQ_CLS,
        num_virtual_tokens=config.num_virtual_tokens,
        token_dim=embeddings.embedding_dim,
        num_layers=model.config.num_hidden_layers,
        num_attention_heads=model.config.num_attention_heads,
        num_transformer_submodules=1,
        modules_to_save=list(head),
    )
    if method == "prompt":
        init = PromptTuningInit.SAMPLE_VOCAB if config.prompt_init == "vocab" else "RANDOM"
        peft_model = get_peft_model(model, PromptTuningConfig(prompt_tuning_init=init, **common))
    else:
        peft_config = PromptEncoderConfig(encoder_hidden_size=config.encoder_hidden_size, **common)
        peft_model = get_peft_model(model, peft_config)
        if config.prompt_init == "vocab":
            _init_from_vocabulary(peft_model, embeddings)
    return peft_model


def _init_from_vocabulary(peft_model: Any, embeddings: nn.Embedding) -> None:
    """Set the P-tuning encoder's input embedding to rows of the word embedding matrix."""
    table = peft_model.prompt_encoder[peft_model.active_adapter].embedding
    rows = torch.randint(0, embeddings.num_embeddings, (table.num_embeddings,))
    with torch.no_grad():
        source = embeddings.weight[rows.to(embeddings.weight.device)]
        table.weight.copy_(source.to(table.weight.device, table.weight.dtype))
