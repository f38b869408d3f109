"""`head = "pooled_linear" | "mean_linear"`: our own classification head over a pretrained encoder.

    encoder (AutoModel, pretrained) -> pooled output -> dropout -> Linear(hidden, k classes)

The pooled output is the encoder's `pooler_output` where it has one (BERT: tanh(W h_[CLS]),
pretrained with next-sentence prediction), else the first token's hidden state. The original
project called this "bert_scratch", but nothing is trained from scratch except the Linear
layer: the BERT under it is pretrained. For BERT it computes what BertForSequenceClassification
computes; it exists to reproduce the original project's model as its own module and to put one
head over any encoder.

The module looks enough like a transformers model (a `config`, `inputs_embeds`, `labels`, a
SequenceClassifierOutput) for peft and the HF Trainer to use it.

`mean_linear` pools by the masked mean of the last hidden states instead: the pooling that
sentence encoders such as all-MiniLM-L6-v2 were trained with (their [CLS] state and pooler
are not trained to summarise a text). With prompt methods the virtual tokens count as tokens
of the text, since peft extends the attention mask over them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

HEAD_FILE = "pooled_linear_head.safetensors"
POOLINGS = {"pooled_linear": "pooler", "mean_linear": "mean"}  # head name -> pooling


class PooledLinearClassifier(nn.Module):
    def __init__(
        self,
        encoder: Any,
        num_labels: int = 2,
        dropout: float | None = None,
        pooling: str = "pooler",
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS.values():
            raise ValueError(f"pooling must be one of {sorted(POOLINGS.values())}, got {pooling!r}")
        if pooling == "mean" and getattr(encoder, "pooler", None) is not None:
            # unused by mean pooling: dropped, so that it neither counts as trainable nor leaves
            # DDP waiting for gradients that never come
            encoder.pooler = None
        self.encoder = encoder
        self.pooling = pooling
        self.config = encoder.config
        p = dropout if dropout is not None else getattr(self.config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(p)
        self.classifier = nn.Linear(self.config.hidden_size, num_labels)
        nn.init.normal_(self.classifier.weight, std=getattr(self.config, "initializer_range", 0.02))
        nn.init.zeros_(self.classifier.bias)

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    def get_input_embeddings(self) -> nn.Module:
        return self.encoder.get_input_embeddings()

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        **kwargs: Any,
    ) -> Any:
        from transformers.modeling_outputs import SequenceClassifierOutput

        # peft passes generation-only keys for some methods; an encoder takes none of them.
        kwargs = {k: v for k, v in kwargs.items() if k in ("token_type_ids", "position_ids")}
        out = self.encoder(
            input_ids=input_ids,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            **kwargs,
        )
        logits = self.classifier(self.dropout(self._pool(out, attention_mask)))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def _pool(self, out: Any, attention_mask: torch.Tensor | None) -> torch.Tensor:
        states = out.last_hidden_state
        if self.pooling == "mean":
            if attention_mask is None:
                return states.mean(dim=1)
            # a prefix-extended mask would be longer than the states: real tokens come last
            weights = attention_mask[:, -states.shape[1] :].unsqueeze(-1).to(states.dtype)
            return (states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        pooled = getattr(out, "pooler_output", None)
        return states[:, 0] if pooled is None else pooled

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        self.encoder.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, directory: Path) -> None:
        """The encoder in HF format plus the head (dropout p in the metadata) in safetensors."""
        directory = Path(directory)
        self.encoder.save_pretrained(directory)
        tensors = {
            k: v.detach().contiguous().cpu() for k, v in self.classifier.state_dict().items()
        }
        metadata = {"dropout": str(self.dropout.p), "pooling": self.pooling}
        save_file(tensors, directory / HEAD_FILE, metadata=metadata)

    @classmethod
    def from_pretrained(cls, directory: Path, encoder: Any) -> PooledLinearClassifier:
        from safetensors import safe_open

        path = Path(directory) / HEAD_FILE
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
        state = load_file(str(path))
        model = cls(
            encoder,
            num_labels=state["weight"].shape[0],
            dropout=float(metadata["dropout"]),
            pooling=metadata.get("pooling", "pooler"),  # files written before mean_linear
        )
        model.classifier.load_state_dict(state)
        return model
