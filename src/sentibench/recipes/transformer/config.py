"""TransformerConfig: every setting of the transformer recipe (presets and --set change them).

    sentibench train deberta_lora --data imdb                       # the seed's settings (gpu)
    sentibench train minilm_lora --data sample --preset quick       # offline, seconds
    sentibench train bert_native --set backbone=/models/bert --set method=lora --set loop=trainer

Every registry entry of the "transformer" family is this recipe; its presets choose backbone,
method, loop and hyper-parameters, and `--set` changes any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sentibench.config import BaseConfig
from sentibench.errors import ConfigError


@dataclass
class TransformerConfig(BaseConfig):
    backbone: str = field(
        default="minilm",
        metadata={"help": "hub id, local folder, or 'minilm' (the bundled all-MiniLM-L6-v2)"},
    )
    method: Literal["full", "lora", "ptuning", "prompt", "prefix"] = field(
        default="full", metadata={"help": "what trains: all weights, or adapters + the head"}
    )
    head: Literal["auto", "pooled_linear", "mean_linear"] = field(
        default="auto",
        metadata={
            "help": "auto: the architecture's own classification head; pooled_linear: our "
            "dropout + Linear over the pretrained encoder's pooled output (the seed's "
            "'bert_scratch'); mean_linear: the same over the masked mean of the last hidden "
            "states (how sentence encoders such as MiniLM were trained to pool)"
        },
    )
    loop: Literal["native", "trainer"] = field(
        default="native", metadata={"help": "native: sentibench's loop; trainer: HF Trainer"}
    )
    max_length: int = field(default=256, metadata={"help": "tokens per review, specials included"})
    truncation: Literal["head", "head_tail"] = field(
        default="head",
        metadata={"help": "head: first tokens; head_tail: first head_tokens + last (Sun 2019)"},
    )
    head_tokens: int = field(
        default=128, metadata={"help": "tokens kept from the start with head_tail truncation"}
    )
    lr: float = field(default=5e-5, metadata={"help": "peak learning rate (AdamW)"})
    epochs: int = field(default=2, metadata={"help": "passes over the training reviews"})
    batch_size: int = field(default=16, metadata={"help": "reviews per forward pass"})
    eval_batch_size: int = field(default=64, metadata={"help": "reviews per batch when scoring"})
    grad_accum: int = field(
        default=1, metadata={"help": "batches per optimizer step (step = batch_size * grad_accum)"}
    )
    warmup_ratio: float = field(
        default=0.06, metadata={"help": "share of optimizer steps with linear warmup"}
    )
    warmup_steps: int = field(
        default=0, metadata={"help": "warmup in optimizer steps; > 0 replaces warmup_ratio"}
    )
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW decoupled weight decay"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping; 0 = off"})
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = field(
        default="auto", metadata={"help": "on a GPU; auto: bf16 where it has bf16, else fp16"}
    )
    # fp32 by default: the records made before this key existed were fp32 on every CPU.
    cpu_precision: Literal["fp32", "bf16", "auto"] = field(
        default="fp32",
        metadata={
            "help": "on a CPU, training and scoring: fp32; bf16: matrix products under bf16 "
            "autocast (weights and optimizer stay fp32); auto: bf16 where the CPU computes "
            "bf16 natively (AVX512-BF16 or AMX), else fp32 (emulated bf16 is slower)"
        },
    )
    gradient_checkpointing: bool = field(
        default=False, metadata={"help": "recompute activations in backward: less memory"}
    )
    group_by_length: bool = field(
        default=True, metadata={"help": "batch reviews of similar length together (less padding)"}
    )
    batch_tokens: int = field(
        default=0,
        metadata={
            "help": "> 0: training batches of similar-length reviews holding at most this many "
            "tokens once padded (reviews x longest), in place of batch_size and "
            "group_by_length (native loop); 0: batch_size reviews per batch"
        },
    )
    torch_compile: bool = field(
        default=False,
        metadata={
            "help": "torch.compile (inductor, dynamic shapes) the model before training; paid "
            "1.0x to 1.2x on a 2-core CPU after a minute or two of compiling (BENCHMARKS.md)"
        },
    )
    attention_dropout: float | None = field(
        default=None,
        metadata={
            "help": "dropout on the attention probabilities while training; unset: the "
            "backbone's own (0.1 for BERT-likes). 0 lets CPUs use the fused attention kernel "
            "(the MiniLM cpu presets: 1.31x-1.50x faster training, BENCHMARKS.md)"
        },
    )
    patience: int = field(
        default=0, metadata={"help": "early stop after N epochs without better val acc; 0: off"}
    )
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA scale numerator (scale alpha/r)"})
    lora_dropout: float = field(default=0.05, metadata={"help": "dropout on the LoRA input"})
    lora_targets: list[str] = field(
        default_factory=list,
        metadata={"help": "module names LoRA adapts; empty: the architecture's default"},
    )
    num_virtual_tokens: int = field(
        default=20, metadata={"help": "prompt / P-tuning / prefix length in virtual tokens"}
    )
    encoder_hidden_size: int = field(
        default=128, metadata={"help": "P-tuning PromptEncoder MLP width"}
    )
    prefix_hidden_size: int = field(
        default=0,
        metadata={
            "help": "0: free per-layer prefixes; > 0: Li & Liang's MLP reparameterisation of "
            "that width (needs a far lower lr, ~1e-4: its updates add up over the width)"
        },
    )
    prompt_init: Literal["random", "vocab"] = field(
        default="vocab",
        metadata={"help": "prompt / P-tuning start: random, or embeddings of random words"},
    )
    require_learning: bool = field(
        default=True,
        metadata={"help": "end-of-training checks: a loss far above chance or a validation "
                  "accuracy not above the majority rate (95% interval) is a collapse"},
    )  # fmt: skip
    trust_remote_code: bool = field(
        default=False, metadata={"help": "run model code shipped with the backbone (never default)"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        positive = ("max_length", "epochs", "batch_size", "eval_batch_size", "grad_accum",
                    "lora_r", "num_virtual_tokens", "head_tokens")  # fmt: skip
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"Config key '{name}' must be >= 1, got {getattr(self, name)}.")
        if self.lr <= 0:
            raise ConfigError(f"Config key 'lr' must be > 0, got {self.lr}.")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(
                f"Config key 'warmup_ratio' must be in [0, 1), got {self.warmup_ratio}."
            )
        if self.attention_dropout is not None and not 0.0 <= self.attention_dropout < 1.0:
            raise ConfigError(
                f"Config key 'attention_dropout' must be in [0, 1), got {self.attention_dropout}."
            )
        if self.batch_tokens and self.batch_tokens < self.max_length:
            raise ConfigError(
                f"Config key 'batch_tokens' must be 0 or >= max_length ({self.max_length}), "
                f"got {self.batch_tokens}: a batch must hold the longest review."
            )
        if self.batch_tokens and self.loop == "trainer":
            raise ConfigError(
                "Config key 'batch_tokens' needs loop = \"native\" (HF Trainer batches by "
                'batch_size); set batch_tokens = 0 or loop = "native".'
            )
        if self.truncation == "head_tail" and self.head_tokens >= self.max_length - 2:
            raise ConfigError(
                f"head_tokens {self.head_tokens} leaves no tail within max_length "
                f"{self.max_length}; use a smaller head_tokens."
            )

    def warmup_fraction(self, optimizer_steps: int) -> float:
        """warmup_steps (if set) as a share of all optimizer steps, else warmup_ratio."""
        if self.warmup_steps > 0:
            return min(1.0, self.warmup_steps / max(1, optimizer_steps))
        return self.warmup_ratio
