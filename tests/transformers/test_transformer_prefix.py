"""Project prefix tuning: DeBERTa (inside disentangled attention) and BERT-family (attention
interface). The prefix changes outputs, trains, ignores padding, and with zero prefix tokens
the model computes exactly what the stock model computes."""

from __future__ import annotations

import pytest
import torch
from transformer_fixtures import TEXTS, encode

from sentibench.transformers.backbone import load_sequence_classifier, load_tokenizer
from sentibench.transformers.prefix.core import PrefixTunedModel
from sentibench.transformers.prefix.deberta import PrefixDisentangledSelfAttention

HEAD = {"deberta": ["pooler", "classifier"], "bert": ["classifier"], "roberta": ["classifier"],
        "distilbert": ["pre_classifier", "classifier"]}  # fmt: skip


def stock_and_prefixed(backbone, arch: str, tokens: int = 4, mlp: int = 16):
    torch.manual_seed(0)
    stock, _ = load_sequence_classifier(str(backbone))
    torch.manual_seed(0)
    model, _ = load_sequence_classifier(str(backbone))  # same weights, head included
    return stock.eval(), PrefixTunedModel(model, tokens, mlp, HEAD[arch]).eval()


@pytest.mark.parametrize("arch", ["deberta", "bert", "distilbert", "roberta"])
def test_zero_prefix_tokens_compute_the_stock_model(arch, tiny_backbones):
    stock, prefixed = stock_and_prefixed(tiny_backbones[arch], arch, tokens=0, mlp=0)
    inputs = encode(load_tokenizer(str(tiny_backbones[arch])), TEXTS)
    with torch.no_grad():
        torch.testing.assert_close(prefixed(**inputs).logits, stock(**inputs).logits)


@pytest.mark.parametrize("arch", ["deberta", "bert"])
def test_prefix_changes_outputs_and_ignores_padding(arch, tiny_backbones):
    stock, prefixed = stock_and_prefixed(tiny_backbones[arch], arch)
    if arch == "deberta":
        layers = [m for m in prefixed.modules() if isinstance(m, PrefixDisentangledSelfAttention)]
        assert len(layers) == 2
    tokenizer = load_tokenizer(str(tiny_backbones[arch]))
    inputs = encode(tokenizer, TEXTS)
    with torch.no_grad():
        out = prefixed(**inputs, output_hidden_states=True)
        logits, last = out.logits, out.hidden_states[-1]
        stock_last = stock(**inputs, output_hidden_states=True).hidden_states[-1]
        assert (last - stock_last).abs().max() > 1e-2
        # 7 more pad tokens on every row: the real tokens never see them.
        padded = tokenizer(TEXTS, padding="max_length", max_length=inputs["input_ids"].shape[1] + 7,
                           return_tensors="pt", return_token_type_ids=False)  # fmt: skip
        torch.testing.assert_close(prefixed(**padded).logits, logits, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("checkpointing", [False, True])
def test_deberta_prefix_alone_lowers_the_loss(checkpointing, tiny_backbones):
    """Backbone and head frozen: only the prefixes move, and the loss still falls."""
    torch.manual_seed(0)
    model, _ = load_sequence_classifier(str(tiny_backbones["deberta"]))
    model = PrefixTunedModel(model, 4, 16, trainable_modules=[])
    if checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.eval()  # no dropout: a deterministic loss curve (gradients flow all the same)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    assert all(n.startswith("prefix.") for n, p in model.named_parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    inputs = encode(load_tokenizer(str(tiny_backbones["deberta"])), TEXTS)
    labels = torch.tensor([1, 0])
    losses = []
    for _ in range(10):
        loss = model(**inputs, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.2, losses
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)


def test_free_prefixes_are_per_layer_keys_and_values(tiny_backbones):
    """Without the MLP: L layers x (keys, values) x P tokens x hidden, plus the head."""
    _, model = stock_and_prefixed(tiny_backbones["distilbert"], "distilbert", tokens=3, mlp=0)
    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    head = sum(n for name, n in trainable.items() if not name.startswith("prefix."))
    assert trainable["prefix.key_value"] == 2 * 2 * 3 * 32
    assert head == (32 * 32 + 32) + (32 * 2 + 2)  # pre_classifier + classifier
