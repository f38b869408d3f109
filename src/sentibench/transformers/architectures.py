"""Per-architecture facts in ONE table (as peft's `utils/constants.py` does): which linear layers
LoRA adapts by default, which modules form the classification head (trained and saved with every
adapter), and which self-attention class the prefix mechanism hooks into.

Keys are `config.model_type`. MiniLM (all-MiniLM-L6-v2) is a BertModel, so it is "bert".
An architecture missing here still works for `full`; `lora` then needs `lora_targets`, and
`prefix` says which architectures it supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sentibench.errors import ConfigError

# A transformers PreTrainedModel, or a peft / prefix wrapper of one. Typed Any on purpose:
# nn.Module.__getattr__ types `model.config` and friends as Tensor | Module.
HFModel = Any

INTERFACE_PREFIX = "sentibench.transformers.prefix.interface:install_interface_prefix"
DEBERTA_PREFIX = "sentibench.transformers.prefix.deberta:install_deberta_prefix"


@dataclass(frozen=True)
class Architecture:
    lora_targets: tuple[str, ...]  # peft's LoRA defaults (query and value projections)
    head_modules: tuple[str, ...]  # modules above the encoder; always trainable and saved
    self_attention: str  # class whose forward the prefix mechanism extends
    # "module:function" that joins prefixes to those modules (imported only for method prefix)
    prefix_installer: str = INTERFACE_PREFIX
    # the config key of the attention-probability dropout (TransformerConfig.attention_dropout)
    attention_dropout_key: str = "attention_probs_dropout_prob"


ARCHITECTURES: dict[str, Architecture] = {
    "bert": Architecture(("query", "value"), ("classifier",), "BertSelfAttention"),
    "roberta": Architecture(("query", "value"), ("classifier",), "RobertaSelfAttention"),
    "xlm-roberta": Architecture(("query", "value"), ("classifier",), "XLMRobertaSelfAttention"),
    "electra": Architecture(("query", "value"), ("classifier",), "ElectraSelfAttention"),
    # pre_classifier is newly initialised by DistilBertForSequenceClassification: train it too.
    "distilbert": Architecture(
        ("q_lin", "v_lin"),
        ("pre_classifier", "classifier"),
        "DistilBertSelfAttention",
        attention_dropout_key="attention_dropout",
    ),
    # DeBERTa-v3 checkpoints carry no pooler weights: the ContextPooler is new, so it is trained.
    "deberta-v2": Architecture(
        ("query_proj", "value_proj"),
        ("pooler", "classifier"),
        "DisentangledSelfAttention",
        DEBERTA_PREFIX,
    ),
}


def architecture(model_type: str) -> Architecture | None:
    return ARCHITECTURES.get(model_type)


def lora_targets(model_type: str, configured: list[str]) -> list[str]:
    """The configured targets, or the table's default for this architecture."""
    if configured:
        return list(configured)
    arch = architecture(model_type)
    if arch is None:
        raise ConfigError(
            f"No default LoRA targets for model type '{model_type}'; "
            'set them with --set lora_targets=\'["q","v"]\' (the attention projection names).'
        )
    return list(arch.lora_targets)


def head_modules(model_type: str) -> list[str]:
    arch = architecture(model_type)
    return list(arch.head_modules) if arch else ["classifier", "score"]


def attention_dropout_setting(model_type: str, probability: float) -> dict[str, float]:
    """The backbone config override that sets the attention-probability dropout."""
    arch = architecture(model_type)
    if arch is None:
        raise ConfigError(
            f"attention_dropout: no known attention dropout key for model type '{model_type}'; "
            "leave attention_dropout unset (the backbone's own)."
        )
    return {arch.attention_dropout_key: probability}
