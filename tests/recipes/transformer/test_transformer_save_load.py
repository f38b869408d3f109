"""Save -> load gives identical logits: full models, peft adapters and project prefixes, each
with its trained head (Hugging Face formats, safetensors only)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from transformer_fixtures import TEXTS, tiny_settings

from sentibench.recipes.transformer.predictor import TransformerPredictor
from sentibench.recipes.transformer.recipe import RECIPE
from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.modeling import build_model

CASES = [
    ("deberta", "prefix", "auto"),
    ("deberta", "lora", "auto"),
    ("deberta", "prompt", "auto"),
    ("bert", "ptuning", "auto"),
    ("bert", "prefix", "auto"),
    ("roberta", "full", "auto"),
    ("distilbert", "lora", "auto"),
    ("bert", "full", "pooled_linear"),
    ("bert", "lora", "pooled_linear"),
    ("bert", "full", "mean_linear"),
    ("bert", "ptuning", "mean_linear"),
    ("deberta", "prefix", "mean_linear"),
]


def one_step(model, tokenizer) -> None:
    """Move every trainable weight away from its initial value."""
    inputs = tokenizer(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model(**inputs, labels=torch.tensor([1, 0])).loss.backward()
    optimizer.step()


@pytest.mark.parametrize(("arch", "method", "head"), CASES)
def test_round_trip_gives_identical_logits(arch, method, head, tiny_backbones, tmp_path):
    backbone = str(tiny_backbones[arch])
    config = tiny_settings(backbone, method=method, head=head)
    tokenizer = load_tokenizer(backbone)
    torch.manual_seed(0)
    model = build_model(config, backbone, tokenizer)
    one_step(model, tokenizer)
    trained = TransformerPredictor(model, tokenizer, config, backbone)
    texts = TEXTS + ["simply awful", "great fun , excellent cast"]
    before = trained.logits(texts)
    assert trained.predict_proba([]).shape == (0,)
    trained.save(tmp_path)

    files = {p.name for p in tmp_path.iterdir()}
    assert not any(name.endswith((".bin", ".pt", ".pkl")) for name in files)
    if method in ("lora", "prompt", "ptuning"):
        assert {"adapter_config.json", "adapter_model.safetensors"} <= files
        assert "model.safetensors" not in files  # the frozen backbone is not copied
    if method == "prefix":
        assert {"prefix_config.json", "prefix_model.safetensors"} <= files
    meta = json.loads((tmp_path / "sentibench_transformer.json").read_text())
    assert (meta["method"], meta["head"]) == (method, head)

    torch.manual_seed(123)  # a different seed must not matter: nothing is left random
    loaded = RECIPE.load(config, tmp_path)
    after = loaded.logits(texts)
    assert (before != 0).any()
    torch.testing.assert_close(torch.from_numpy(after), torch.from_numpy(before))
    if (arch, method) == ("deberta", "prefix") and not torch.cuda.is_available():
        # A run trained with fp16 on a GPU can be scored on a CPU (in fp32).
        gpu_run = dataclasses.replace(config, mixed_precision="fp16")
        torch.testing.assert_close(torch.from_numpy(RECIPE.load(gpu_run, tmp_path).logits(texts)),
                                   torch.from_numpy(before))  # fmt: skip
