"""`head = "pooled_linear"`: our own classification head over a pretrained encoder.

    encoder (AutoModel, pretrained) -> pooled output -> dropout -> Linear(hidden, 2)

The pooled output is the encoder's `pooler_output` where it has one (BERT: tanh(W h_[CLS]),
pretrained with next-sentence prediction), else the first token's hidden state. The seed called
this "bert_scratch", but nothing is trained from scratch except the Linear layer: the BERT under
it is pretrained. For BERT it computes what BertForSequenceClassification computes; it exists to
reproduce the seed's model as its own module and to put one head over any encoder.

The module looks enough like a transformers model (a `config`, `inputs_embeds`, `labels`, a
SequenceClassifierOutput) for peft and the HF Trainer to use it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

HEAD_FILE = "pooled_linear_head.safetensors"


class PooledLinearClassifier(nn.Module):
    def __init__(self, encoder: Any, num_labels: int = 2, dropout: float | None = None) -> None:
        super().__init__()
        self.encoder = encoder
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
        pooled = getattr(out, "pooler_output", None)
        if pooled is None:
            pooled = out.last_hidden_state[:, 0]
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)

    def gradient_checkpointing_enable(self, **kwargs: Any) -> None:
        self.encoder.gradient_checkpointing_enable(**kwargs)

    def save_pretrained(self, directory: Path) -> None:
        """The encoder in HF format plus the head (dropout p in the metadata) in safetensors."""
        directory = Path(directory)
        self.encoder.save_pretrained(directory)
        tensors = {
            k: v.detach().contiguous().cpu() for k, v in self.classifier.state_dict().items()
        }
        save_file(tensors, directory / HEAD_FILE, metadata={"dropout": str(self.dropout.p)})

    @classmethod
    def from_pretrained(cls, directory: Path, encoder: Any) -> PooledLinearClassifier:
        from safetensors import safe_open

        path = Path(directory) / HEAD_FILE
        with safe_open(str(path), framework="pt") as handle:
            dropout = float(handle.metadata()["dropout"])
        state = load_file(str(path))
        model = cls(encoder, num_labels=state["weight"].shape[0], dropout=dropout)
        model.classifier.load_state_dict(state)
        return model
