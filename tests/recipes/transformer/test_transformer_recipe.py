"""The recipe end to end on a tiny labelled folder: native loop and HF Trainer, the run record,
resume of an interrupted Trainer run, and the registry entries with their presets."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from transformer_fixtures import tiny_settings

from sentibench import runtime
from sentibench.config import apply_values, read_toml
from sentibench.data.dataset import load_splits
from sentibench.recipes.transformer.config import TransformerConfig
from sentibench.recipes.transformer.recipe import RECIPE
from sentibench.registry import REGISTRY
from sentibench.runs import RunDir

SEED_NAMES = ["bert_native", "bert_trainer", "bert_scratch", "distilbert_native",
              "distilbert_trainer", "roberta_trainer", "deberta_lora", "deberta_ptuning",
              "deberta_prompt", "deberta_prefix"]  # fmt: skip
MINILM_NAMES = ["minilm_full", "minilm_lora", "minilm_prefix", "minilm_ptuning", "minilm_prompt"]


@pytest.mark.parametrize(
    ("loop", "method", "arch"), [("native", "prefix", "deberta"), ("trainer", "lora", "bert")]
)
def test_train_writes_history_and_the_model_reloads(loop, method, arch, tiny_backbones, tiny_data,
                                                    tmp_path):  # fmt: skip
    splits = load_splits(str(tiny_data), val_fraction=0.2, seed=0)
    # 12 validation reviews: too few for the end-of-training learning check; the mechanics only
    config = tiny_settings(tiny_backbones[arch], method=method, loop=loop, epochs=2, lr=5e-3,
                           require_learning=False)  # fmt: skip
    run = RunDir(tmp_path / "run")
    run.create()
    runtime.apply(config.threads, config.seed)
    predictor = RECIPE.train(config, splits, run)
    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(0.0 <= row["val_accuracy"] <= 1.0 for row in history)
    texts = splits.test["text"].tolist()
    proba = predictor.predict_proba(texts)
    assert proba.shape == (len(texts),) and np.all((proba >= 0) & (proba <= 1))
    # the shared loop's evaluation of the kept epoch stands for validation (HF Trainer: none),
    # in the validation split's order, as the kept model predicts it
    held_out = predictor.held_out_validation_proba
    if loop == "native":
        again = predictor.predict_class_proba(splits.validation["text"].tolist())
        np.testing.assert_allclose(held_out, again, atol=1e-6)
        assert len(set(np.round(again[:, 1], 4))) > 1  # not one value that any order would match
    else:
        assert held_out is None
    predictor.save(run.model_dir)
    np.testing.assert_allclose(RECIPE.load(config, run.model_dir).predict_proba(texts), proba)


@pytest.mark.parametrize("loop", ["native", "trainer"])
def test_without_validation_both_loops_train_every_epoch(loop, tiny_backbones, tiny_data,
                                                         tmp_path):  # fmt: skip
    splits = load_splits(str(tiny_data), val_fraction=0.0, seed=0)
    assert splits.validation.empty
    config = tiny_settings(tiny_backbones["bert"], method="full", loop=loop, epochs=2, lr=5e-3)
    run = RunDir(tmp_path / "run")
    run.create()
    runtime.apply(config.threads, config.seed)
    predictor = RECIPE.train(config, splits, run)
    history = run.history()
    assert [row["epoch"] for row in history] == [1, 2]
    assert all(row.get("val_accuracy") is None and row["train_loss"] > 0 for row in history)
    assert predictor.predict_proba(splits.test["text"].tolist()[:4]).shape == (4,)


def test_trainer_resumes_from_the_runs_checkpoint(tiny_backbones, tiny_data, tmp_path):
    splits = load_splits(str(tiny_data), val_fraction=0.2, seed=0)
    run = RunDir(tmp_path / "run")
    run.create()
    first = tiny_settings(
        tiny_backbones["bert"], method="lora", loop="trainer", epochs=1, require_learning=False
    )  # 12 validation reviews: the mechanics only
    runtime.apply(first.threads, first.seed)
    RECIPE.train(first, splits, run)  # as if killed after its epoch-1 checkpoint
    assert list((run.checkpoint_dir / "trainer").glob("checkpoint-*"))
    runtime.apply(first.threads, first.seed)
    RECIPE.train(dataclasses.replace(first, epochs=2), splits, run)
    assert [row["epoch"] for row in run.history()] == [1, 2]  # epoch 1 was not trained again
    assert "resuming the Trainer" in run.log_path.read_text()


def test_registry_entries_and_presets():
    for name in SEED_NAMES + MINILM_NAMES:
        spec = REGISTRY[name]
        assert spec.family == "transformer" and spec.load_recipe() is RECIPE
        presets = spec.presets()
        assert {"cpu", "quick"} <= set(presets), name
        if name in SEED_NAMES:
            assert "gpu" in presets, name
        for preset in presets:
            config = apply_values(TransformerConfig(), read_toml(spec.preset_path(preset)))
            if preset != "gpu":
                assert config.backbone == "minilm", (name, preset)
    gpu = apply_values(TransformerConfig(), read_toml(REGISTRY["deberta_lora"].preset_path("gpu")))
    assert (gpu.backbone, gpu.method, gpu.max_length, gpu.epochs) == (
        "microsoft/deberta-v3-base", "lora", 512, 3
    )  # fmt: skip
    assert (gpu.batch_size, gpu.grad_accum, gpu.lora_r, gpu.lora_alpha) == (2, 8, 16, 32)
