"""The transformer recipe's CPU speed settings on a tiny BERT: cpu_precision picks bf16
autocast only where the CPU has native bf16 (capability mocked), keeps fp32 weights, logs why
it falls back; batch_tokens gives token-budget batches, which train to the same loss as
unsorted, fully padded batches of the same reviews."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader
from transformer_fixtures import tiny_settings

from sentibench import runtime
from sentibench.data.dataset import load_splits
from sentibench.errors import ConfigError
from sentibench.recipes.transformer.native import encode_splits, epoch_batches
from sentibench.recipes.transformer.recipe import RECIPE
from sentibench.runs import RunDir
from sentibench.train.loop import LoopConfig, train_loop
from sentibench.transformers import modeling
from sentibench.transformers.backbone import load_tokenizer
from sentibench.transformers.tokenization import padding_collator


@pytest.mark.parametrize(
    ("loop", "native"), [("native", True), ("native", False), ("trainer", True)]
)
def test_auto_trains_and_scores_in_bf16_only_with_native_bf16(
    loop, native, monkeypatch, tiny_backbones, tiny_data, tmp_path
):
    monkeypatch.setattr(runtime, "cpu_flags", lambda: {"avx512_bf16"} if native else {"avx2"})
    dtypes: list[torch.dtype] = []
    build = modeling.build_model

    def watched(*args, **kwargs):  # records the output dtype of the encoder's first Linear
        model = build(*args, **kwargs)
        first = next(m for m in model.modules() if isinstance(m, nn.Linear))
        first.register_forward_hook(lambda module, inputs, output: dtypes.append(output.dtype))
        return model

    monkeypatch.setattr(modeling, "build_model", watched)
    splits = load_splits(str(tiny_data), val_fraction=0.0, seed=0)
    budget = 64 if loop == "native" else 0  # token budgets are the native loop's
    config = tiny_settings(tiny_backbones["bert"], cpu_precision="auto", loop=loop,
                           batch_tokens=budget, require_learning=False)  # fmt: skip
    run = RunDir(tmp_path / "run")
    run.create()
    runtime.apply(config.threads, config.seed)
    predictor = RECIPE.train(config, splits, run)
    expected = torch.bfloat16 if native else torch.float32
    assert dtypes and set(dtypes) == {expected}
    assert all(p.dtype == torch.float32 for p in predictor.model.parameters())  # master weights
    dtypes.clear()
    predictor.predict_proba(splits.test["text"].tolist()[:4])
    assert set(dtypes) == {expected}
    precision = "bf16" if native else "fp32"
    assert predictor.precisions == {"train_precision": precision, "score_precision": precision}
    log = run.log_path.read_text()
    assert ("avx512_bf16 native" in log) if native else ("fp32, because this CPU has no" in log)


def test_validation_is_predicted_again_where_scoring_is_not_in_the_training_precision(
    monkeypatch, tiny_backbones, tiny_data
):
    # as for P-tuning trained in bf16 (it scores in fp32): the loop's evaluation of validation
    # is not what the model predicts, so the recipe keeps none and the runner predicts again
    from sentibench.recipes.transformer import predictor as transformer_predictor

    monkeypatch.setattr(transformer_predictor, "training_precision", lambda config: "bf16")
    splits = load_splits(str(tiny_data), val_fraction=0.2, seed=0)
    config = tiny_settings(tiny_backbones["deberta"], method="prefix", epochs=2, lr=5e-3,
                           require_learning=False)  # fmt: skip
    runtime.apply(config.threads, config.seed)
    predictor = RECIPE.train(config, splits, None)
    assert predictor.precisions == {"train_precision": "bf16", "score_precision": "fp32"}
    assert predictor.held_out_validation_proba is None


def test_token_budget_epoch_has_the_loss_of_unsorted_padded_batches(tiny_backbones, tiny_data):
    splits = load_splits(str(tiny_data), val_fraction=0.0, seed=0)
    config = tiny_settings(tiny_backbones["bert"], batch_tokens=48, epochs=1)
    tokenizer = load_tokenizer(str(config.backbone), False)
    train, _ = encode_splits(config, tokenizer, splits)
    collate = padding_collator(tokenizer)
    grouped = epoch_batches(train, collate, config, epoch=1)
    groups = [list(group) for group in grouped.batch_sampler]
    assert 1 < len(groups) < len(train) and len({len(g) for g in groups}) > 1

    def padded_to_max(rows):  # the same reviews, padded to max_length whatever their lengths
        return tokenizer.pad(rows, padding="max_length", max_length=config.max_length,
                             return_tensors="pt")  # fmt: skip

    # the same batches, each in reverse (unsorted) order and padded to max_length
    unsorted = DataLoader(train, batch_sampler=[g[::-1] for g in groups], collate_fn=padded_to_max)
    assert max(len(b["input_ids"][0]) for b in unsorted) == config.max_length
    losses = []
    for batches in (grouped, unsorted):
        torch.manual_seed(0)
        model = modeling.build_model(config, str(config.backbone), tokenizer)
        for module in model.modules():  # no dropout: the two runs must see the same function
            if isinstance(module, nn.Dropout):
                module.p = 0.0
        loop = LoopConfig(epochs=1, lr=1e-3, seed=0, progress=False, require_learning=False,
                          collapse_patience=99)  # fmt: skip
        result = train_loop(model, lambda epoch, b=batches: b, [], loop)
        losses.append(result.history[0]["train_loss"])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_batch_tokens_must_hold_a_review_and_needs_the_native_loop(tiny_backbones):
    base = tiny_settings(tiny_backbones["bert"])
    with pytest.raises(ConfigError, match="'batch_tokens' must be 0 or >= max_length"):
        dataclasses.replace(base, batch_tokens=16)
    with pytest.raises(ConfigError, match="needs loop"):
        dataclasses.replace(base, batch_tokens=64, loop="trainer")


def test_attention_dropout_is_a_probability_or_unset(tiny_backbones):
    base = tiny_settings(tiny_backbones["bert"])
    assert base.attention_dropout is None  # unset: the backbone's own
    for wrong in (1.0, -0.1):
        with pytest.raises(ConfigError, match="'attention_dropout' must be in"):
            dataclasses.replace(base, attention_dropout=wrong)


def test_torch_compile_trains_through_dynamo_and_saves_plain_names(
    monkeypatch, tiny_backbones, tiny_data, tmp_path
):
    from sentibench.recipes.transformer import native

    graphs: list[torch.fx.GraphModule] = []

    def recording(graph, example_inputs):  # a real dynamo backend: runs the captured graph
        graphs.append(graph)
        return graph.forward

    monkeypatch.setattr(native, "COMPILE_BACKEND", recording)  # inductor takes minutes
    splits = load_splits(str(tiny_data), val_fraction=0.25, seed=0)
    texts = splits.test["text"].tolist()[:6]
    logits = {}
    try:
        for compiled in (False, True):
            config = tiny_settings(tiny_backbones["bert"], torch_compile=compiled,
                                   require_learning=False, batch_tokens=64)  # fmt: skip
            run = RunDir(tmp_path / f"run-{compiled}")
            run.create()
            runtime.apply(config.threads, config.seed)
            predictor = RECIPE.train(config, splits, run)
            logits[compiled] = predictor.logits(texts)
        assert graphs, "training never went through torch.compile"
        assert "torch.compile" in (tmp_path / "run-True" / "train.log").read_text()
        # dynamo runs the same operations: the compiled run trains to the same model
        torch.testing.assert_close(logits[True], logits[False], rtol=1e-4, atol=1e-5)
        assert not any("_orig_mod" in key for key in predictor.model.state_dict())
        predictor.save(tmp_path / "model")
        loaded = RECIPE.load(config, tmp_path / "model")
        torch.testing.assert_close(loaded.logits(texts), logits[True], rtol=1e-5, atol=1e-6)
    finally:
        torch._dynamo.reset()  # no compiled code cached for the next tests


def test_torch_compile_reaches_the_hf_trainer(tiny_backbones, tmp_path):
    from sentibench.recipes.transformer.hf_trainer import training_arguments

    for compiled in (False, True):
        config = tiny_settings(tiny_backbones["bert"], loop="trainer", torch_compile=compiled)
        assert training_arguments(config, tmp_path).torch_compile is compiled
