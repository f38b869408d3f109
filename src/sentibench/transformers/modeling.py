"""Build, save and load a sequence classifier for (backbone, head, method).

    head    auto           AutoModelForSequenceClassification (the architecture's own head)
            pooled_linear  heads.PooledLinearClassifier (pooled output -> dropout -> Linear)
            mean_linear    the same over the masked mean of the last hidden states
    method  full           every weight trains
            lora/ptuning/prompt   peft adapters + the head (peft_methods.py)
            prefix         project prefix tuning + the head (prefix.py, deberta_prefix.py)

What lands in the run's model/ folder (Hugging Face formats, safetensors only):

    full, auto           config.json + model.safetensors + tokenizer: a folder any
                         AutoModelForSequenceClassification.from_pretrained can read
    full, *_linear       the encoder's save_pretrained folder + pooled_linear_head.safetensors
    lora/ptuning/prompt  adapter_config.json + adapter_model.safetensors (adapters and head)
    prefix               prefix_config.json + prefix_model.safetensors (prefixes and head)
    always               tokenizer files and sentibench_transformer.json (method, head, backbone;
                         "label_names" when they are not ("negative", "positive"))

k classes: the head has one output per label name (label id i = label_names[i]), for every
head and method; the adapters' copy of the head (modules_to_save) has the same k rows, and
loading reads the names back from sentibench_transformer.json (absent: the two IMDB classes,
as in every folder written before k classes) to rebuild a head of that size.

Adapter folders hold no backbone weights: loading them needs the same backbone (the config's
`backbone`, resolved again, e.g. "minilm" or the folder or hub id used for training).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from sentibench.errors import ConfigError, SentibenchError
from sentibench.labels import BINARY_LABELS
from sentibench.transformers.architectures import HFModel, attention_dropout_setting
from sentibench.transformers.backbone import (
    load_config,
    load_encoder,
    load_sequence_classifier,
    load_tokenizer,
)
from sentibench.transformers.heads import POOLINGS, PooledLinearClassifier
from sentibench.transformers.peft_methods import PEFT_METHODS, apply_peft, trainable_head
from sentibench.transformers.prefix.core import PrefixTunedModel

METHODS = ("full", "lora", "ptuning", "prompt", "prefix")
HEADS = ("auto", "pooled_linear", "mean_linear")
META_FILE = "sentibench_transformer.json"


def load_base(
    config: Any, resolved: str, label_names: Sequence[str] = BINARY_LABELS
) -> tuple[HFModel, list[str]]:
    """The pretrained classifier for `config.head` with one output per label name, and the
    modules that form its head."""
    names = tuple(label_names)
    overrides = backbone_overrides(config, resolved)
    if config.head in POOLINGS:
        encoder, missing = load_encoder(resolved, config.trust_remote_code, overrides)
        model = PooledLinearClassifier(encoder, len(names), pooling=POOLINGS[config.head])
        missing = {f"encoder.{key}" for key in missing} | {"classifier.weight"}
    elif config.head == "auto":
        model, missing = load_sequence_classifier(
            resolved, config.trust_remote_code, len(names), overrides
        )
    else:
        raise ConfigError(f"head must be one of {', '.join(HEADS)}, got {config.head!r}.")
    if names != BINARY_LABELS:  # the names in the saved config.json too (binary: HF's own)
        model.config.id2label = dict(enumerate(names))
        model.config.label2id = {name: i for i, name in enumerate(names)}
    return model, trainable_head(model, missing)


def backbone_overrides(config: Any, resolved: str) -> dict[str, float]:
    """Keys of the backbone's own config that the run replaces (none by default)."""
    if getattr(config, "attention_dropout", None) is None:
        return {}
    model_type = load_config(resolved, config.trust_remote_code).model_type
    return attention_dropout_setting(model_type, config.attention_dropout)


def check_length(config: Any, model: HFModel, tokenizer: Any) -> None:
    """max_length (+ virtual tokens, which take positions) must fit the position table."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if getattr(model.config, "model_type", "") in ("roberta", "xlm-roberta"):
        limit = limit - 2 if limit else limit  # positions start after padding_idx
    absolute = getattr(model.config, "position_biased_input", True)  # DeBERTa-v3: relative only
    virtual = config.num_virtual_tokens if config.method in ("prompt", "ptuning") else 0
    if limit and absolute and config.max_length + virtual > limit:
        extra = f" + {virtual} virtual tokens" if virtual else ""
        raise ConfigError(
            f"max_length {config.max_length}{extra} exceeds the {limit} positions of "
            f"{config.backbone}; set --set max_length={limit - virtual}."
        )


def build_model(
    config: Any, resolved: str, tokenizer: Any, label_names: Sequence[str] = BINARY_LABELS
) -> HFModel:
    """A trainable classifier: pretrained backbone + a head with one output per label name,
    wrapped for the method."""
    model, head = load_base(config, resolved, label_names)
    check_length(config, model, tokenizer)
    if config.method == "full":
        pass
    elif config.method in PEFT_METHODS:
        model = apply_peft(model, config.method, config, head)
    elif config.method == "prefix":
        model = PrefixTunedModel(model, config.num_virtual_tokens, config.prefix_hidden_size, head)
    else:
        raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {config.method!r}.")
    if config.gradient_checkpointing:
        # Non-reentrant checkpointing passes gradients to prompts/prefixes without
        # enable_input_require_grads, with a frozen embedding layer.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    return model


def save_model(
    model: HFModel,
    tokenizer: Any,
    config: Any,
    resolved: str,
    directory: Path,
    label_names: Sequence[str] = BINARY_LABELS,
) -> None:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    meta: dict[str, Any] = {
        "method": config.method,
        "head": config.head,
        "backbone": config.backbone,
        "trained_from": resolved,
    }
    if tuple(label_names) != BINARY_LABELS:  # binary folders stay as they always were
        meta["label_names"] = list(label_names)
    (directory / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def saved_label_names(directory: Path) -> tuple[str, ...]:
    """The label names a model folder was trained with (absent: the two IMDB classes)."""
    path = Path(directory) / META_FILE
    if not path.exists():
        raise SentibenchError(f"{directory} has no {META_FILE}; it is not a transformer model.")
    names = json.loads(path.read_text(encoding="utf-8")).get("label_names")
    if names is None:
        return BINARY_LABELS
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        raise SentibenchError(
            f"{path}: label_names must be a list of at least two strings; copy the run whole."
        )
    return tuple(names)


def load_model(config: Any, directory: Path, resolved: str | None) -> tuple[nn.Module, Any]:
    """Rebuild the trained classifier and its tokenizer from a model/ folder.

    Every from_pretrained gets config.trust_remote_code explicitly; for a run folder it is on
    only when the run recorded it and the user allowed it (runs.load_predictor), so code in
    the folder (an auto_map in its config.json) is otherwise never imported.
    """
    directory = Path(directory)
    names = saved_label_names(directory)  # also refuses a folder that is no transformer model
    tokenizer = load_tokenizer(str(directory), config.trust_remote_code)
    if config.method == "full":
        if config.head in POOLINGS:  # the head file's weight has one row per class
            encoder, _ = load_encoder(str(directory), config.trust_remote_code)
            return PooledLinearClassifier.from_pretrained(directory, encoder), tokenizer
        model, _ = load_sequence_classifier(str(directory), config.trust_remote_code, len(names))
        return model, tokenizer
    assert resolved is not None, "adapters need their backbone"
    base, _ = load_base(config, resolved, names)  # a fresh k-way head; the adapter's replaces it
    if config.method in PEFT_METHODS:
        from peft import PeftModel

        return PeftModel.from_pretrained(base, str(directory)), tokenizer
    return PrefixTunedModel.from_pretrained(directory, base), tokenizer


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(all parameters, trainable parameters), each shared tensor counted once."""
    seen: dict[int, nn.Parameter] = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in seen.values())
    trainable = sum(p.numel() for p in seen.values() if p.requires_grad)
    return total, trainable
