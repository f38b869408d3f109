"""k classes: a head with one output per label name, trained by the recipe, and saved and
loaded again with its k rows for every method (the adapters' copy via modules_to_save)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from transformer_fixtures import THREE_CLASSES, three_class_splits, tiny_settings

from sentibench import runtime
from sentibench.errors import SentibenchError
from sentibench.recipes.transformer.predictor import TransformerPredictor
from sentibench.recipes.transformer.recipe import RECIPE
from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.modeling import build_model

TEXTS = ["a great film , loved the acting", "the worst movie , boring plot", "the story and cast",
         "simply awful", "great fun , excellent cast"]  # fmt: skip


def test_recipe_trains_a_three_way_head_that_reloads(tiny_backbones, tmp_path):
    # HF Trainer without validation: the loop's one-class checks are binary until the k-class
    # guard lands; LoRA: the head trains and is saved as peft's modules_to_save copy.
    splits = three_class_splits()
    config = tiny_settings(tiny_backbones["bert"], method="lora", loop="trainer",
                           require_learning=False)  # fmt: skip
    runtime.apply(config.threads, config.seed)
    predictor = RECIPE.train(config, splits, None)
    proba = predictor.predict_class_proba(TEXTS)
    assert predictor.label_names == THREE_CLASSES and proba.shape == (len(TEXTS), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    with pytest.raises(SentibenchError, match="3 classes .negative, neutral, positive."):
        predictor.predict_proba(TEXTS)

    predictor.save(tmp_path)
    meta = json.loads((tmp_path / "sentibench_transformer.json").read_text())
    assert meta["label_names"] == list(THREE_CLASSES)
    adapter = load_file(tmp_path / "adapter_model.safetensors")
    heads = [v.shape for k, v in adapter.items() if "classifier" in k and k.endswith("weight")]
    assert heads == [(3, 32)]  # the trained head, all three rows, in the adapter file
    loaded = RECIPE.load(config, tmp_path)
    assert loaded.label_names == THREE_CLASSES
    np.testing.assert_allclose(loaded.predict_class_proba(TEXTS), proba, atol=1e-6)


@pytest.mark.parametrize(
    ("arch", "method", "head"),
    [("bert", "full", "auto"), ("bert", "full", "mean_linear"), ("bert", "lora", "auto"),
     ("bert", "ptuning", "auto"), ("deberta", "prompt", "auto"), ("bert", "prefix", "auto")],
)  # fmt: skip
def test_every_method_saves_and_loads_the_k_way_head(arch, method, head, tiny_backbones,
                                                     tmp_path):  # fmt: skip
    backbone = str(tiny_backbones[arch])
    config = tiny_settings(backbone, method=method, head=head)
    tokenizer = load_tokenizer(backbone)
    torch.manual_seed(0)
    model = build_model(config, backbone, tokenizer, THREE_CLASSES)
    inputs = tokenizer(TEXTS[:3], padding=True, return_tensors="pt", return_token_type_ids=False)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    model(**inputs, labels=torch.tensor([2, 0, 1])).loss.backward()  # every head row moves
    optimizer.step()
    trained = TransformerPredictor(model, tokenizer, config, backbone, label_names=THREE_CLASSES)
    before = trained.logits(TEXTS)
    assert before.shape == (len(TEXTS), 3) and trained.predict_class_proba([]).shape == (0, 3)
    trained.save(tmp_path)

    torch.manual_seed(123)  # a fresh k-way head is drawn at load: the saved one must replace it
    loaded = RECIPE.load(config, tmp_path)
    assert loaded.label_names == THREE_CLASSES
    torch.testing.assert_close(torch.from_numpy(loaded.logits(TEXTS)), torch.from_numpy(before))
    if (method, head) == ("full", "auto"):  # a plain HF folder that names its labels
        saved = json.loads((tmp_path / "config.json").read_text())
        assert saved["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
