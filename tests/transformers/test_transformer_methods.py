"""Every backbone x method: forward/backward, and exactly the expected parameters train."""

from __future__ import annotations

import pytest
import torch
from transformer_fixtures import ARCHES, TEXTS, encode, tiny_settings

from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.modeling import build_model

# Modules on top of the encoder that must train with every method (written out here, not read
# from the code's table, so that a wrong table fails this test).
HEADS = {
    "bert": ["classifier"],
    "distilbert": ["pre_classifier", "classifier"],
    "roberta": ["classifier"],
    "deberta": ["pooler", "classifier"],
}
HIDDEN, LAYERS, P, R, ENCODER, PREFIX_MLP = 32, 2, 4, 2, 8, 16


def linear(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


ADAPTER_PARAMETERS = {
    "full": None,  # everything
    "lora": LAYERS * 2 * R * (HIDDEN + HIDDEN),  # A (r x in) + B (out x r), query and value
    "prompt": P * HIDDEN,  # the virtual token embeddings, nothing else
    # PromptEncoder: embedding + MLP D -> h -> h -> D
    "ptuning": P * HIDDEN
    + linear(HIDDEN, ENCODER)
    + linear(ENCODER, ENCODER)
    + linear(ENCODER, HIDDEN),
    # PrefixEncoder: embedding + D -> m -> L * 2 * D
    "prefix": P * HIDDEN + linear(HIDDEN, PREFIX_MLP) + linear(PREFIX_MLP, LAYERS * 2 * HIDDEN),
}


def head_parameters(arch: str, backbone) -> int:
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(backbone, num_labels=2)
    return sum(p.numel() for name in HEADS[arch] for p in model.get_submodule(name).parameters())


@pytest.mark.parametrize("method", list(ADAPTER_PARAMETERS))
@pytest.mark.parametrize("arch", ARCHES)
def test_method_trains_exactly_adapters_and_head(arch, method, tiny_backbones):
    backbone = tiny_backbones[arch]
    config = tiny_settings(backbone, method=method)
    tokenizer = load_tokenizer(str(backbone))
    torch.manual_seed(0)
    model = build_model(config, str(backbone), tokenizer)

    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    count = sum(p.numel() for p in trainable.values())
    if method == "full":
        assert count == sum(p.numel() for p in model.parameters())
    else:
        assert count == ADAPTER_PARAMETERS[method] + head_parameters(arch, backbone)

    inputs = encode(tokenizer, TEXTS)
    out = model(**inputs, labels=torch.tensor([1, 0]))
    assert out.logits.shape == (2, 2) and torch.isfinite(out.loss)
    out.loss.backward()
    assert all(p.grad is not None for p in trainable.values())
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


@pytest.mark.parametrize("method", ["full", "lora", "prompt", "prefix"])
def test_pooled_linear_head_over_a_pretrained_encoder(method, tiny_backbones):
    """The seed's 'bert_scratch': our dropout + Linear over the pooled output."""
    backbone = tiny_backbones["bert"]
    config = tiny_settings(backbone, method=method, head="pooled_linear")
    tokenizer = load_tokenizer(str(backbone))
    model = build_model(config, str(backbone), tokenizer)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("classifier" in n for n in trainable)
    if method != "full":
        # The encoder's pretrained pooler stays frozen; only adapters and the Linear head train.
        assert not any("pooler" in n for n in trainable)
    out = model(**encode(tokenizer, TEXTS), labels=torch.tensor([1, 0]))
    out.loss.backward()
    assert out.logits.shape == (2, 2)


@pytest.mark.parametrize("method", ["full", "prompt", "prefix"])
def test_mean_linear_head_ignores_padding_and_trains_only_its_linear(method, tiny_backbones):
    """Masked mean pooling: padding a batch further leaves each review's logits unchanged."""
    backbone = tiny_backbones["bert"]
    config = tiny_settings(backbone, method=method, head="mean_linear")
    tokenizer = load_tokenizer(str(backbone))
    torch.manual_seed(0)
    model = build_model(config, str(backbone), tokenizer).eval()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("classifier" in n for n in trainable)
    assert not any("pooler" in n for n, _ in model.named_parameters())  # unused, so dropped
    short = encode(tokenizer, TEXTS)
    padded = tokenizer(TEXTS, padding="max_length", max_length=24, return_tensors="pt",
                       return_token_type_ids=False)  # fmt: skip
    assert padded["input_ids"].shape[1] > short["input_ids"].shape[1]
    with torch.no_grad():
        torch.testing.assert_close(model(**short).logits, model(**padded).logits,
                                   atol=1e-5, rtol=1e-4)  # fmt: skip
        pooled = model(**encode(tokenizer, TEXTS)).logits
        first = model(**encode(tokenizer, TEXTS[:1])).logits
    torch.testing.assert_close(first, pooled[:1], atol=1e-5, rtol=1e-4)


def test_lora_targets_come_from_the_table_or_the_config(tiny_backbones):
    backbone = tiny_backbones["distilbert"]
    tokenizer = load_tokenizer(str(backbone))

    def adapted(model) -> set[str]:  # "...attention.q_lin.lora_A.default.weight" -> "q_lin"
        names = [n for n, _ in model.named_parameters() if ".lora_A." in n]
        return {n.split(".lora_A.")[0].rsplit(".", 1)[-1] for n in names}

    default = build_model(tiny_settings(backbone, method="lora"), str(backbone), tokenizer)
    assert adapted(default) == {"q_lin", "v_lin"}
    chosen = tiny_settings(backbone, method="lora", lora_targets=["k_lin"])
    assert adapted(build_model(chosen, str(backbone), tokenizer)) == {"k_lin"}


def test_prompt_init_from_vocabulary_uses_word_embeddings(tiny_backbones):
    backbone = tiny_backbones["bert"]
    tokenizer = load_tokenizer(str(backbone))
    model = build_model(tiny_settings(backbone, method="prompt"), str(backbone), tokenizer)
    prompts = model.prompt_encoder["default"].embedding.weight
    words = model.get_input_embeddings().weight
    assert all(any(torch.equal(row, word) for word in words) for row in prompts)


def test_virtual_tokens_must_fit_the_position_table(tiny_backbones):
    from sentibench.errors import ConfigError

    backbone = tiny_backbones["bert"]  # 128 absolute positions
    tokenizer = load_tokenizer(str(backbone))
    config = tiny_settings(backbone, method="prompt", max_length=128)
    with pytest.raises(ConfigError, match="max_length=124"):
        build_model(config, str(backbone), tokenizer)
    # DeBERTa-v3 has relative positions only: no such limit.
    deberta = tiny_backbones["deberta"]
    build_model(tiny_settings(deberta, method="prompt", max_length=128), str(deberta), tokenizer)


# The attention-probability dropout modules, named here (not read from the code's table).
SELF_ATTENTION = {
    "bert": "BertSelfAttention",
    "distilbert": "DistilBertSelfAttention",
    "roberta": "RobertaSelfAttention",
    "deberta": "DisentangledSelfAttention",
}


@pytest.mark.parametrize("arch", ARCHES)
def test_attention_dropout_replaces_only_the_attention_probabilities_dropout(arch, tiny_backbones):
    backbone = tiny_backbones[arch]
    tokenizer = load_tokenizer(str(backbone))

    def dropouts(model) -> tuple[set[float], set[float]]:  # (attention probs, all the others)
        attention = [m for m in model.modules() if type(m).__name__ == SELF_ATTENTION[arch]]
        assert attention, f"no {SELF_ATTENTION[arch]} in the {arch} model"
        probs = [m.dropout for m in attention]
        others = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
        return {d.p for d in probs}, {d.p for d in others if all(d is not p for p in probs)}

    own, _ = dropouts(build_model(tiny_settings(backbone), str(backbone), tokenizer))
    assert own == {0.1}  # unset: the backbone's own
    for head in ("auto", "mean_linear") if arch == "bert" else ("auto",):
        config = tiny_settings(backbone, attention_dropout=0.0, head=head)
        probs, other = dropouts(build_model(config, str(backbone), tokenizer))
        assert probs == {0.0} and 0.1 in other  # hidden-state dropout stays as it was
