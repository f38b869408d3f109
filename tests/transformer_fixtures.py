"""Builders for the transformer tests (transformers/, recipes/transformer/): tiny random
encoders (hidden 32, 2 layers) saved with a tiny WordPiece tokenizer, so every backbone x method
path runs from a local folder, offline."""

from __future__ import annotations

from pathlib import Path

import torch

SENTENCE = (
    "a the film movie was is and but not very great excellent good fun loved bad worst awful "
    "boring hated plot acting music story cast end begin middle simply"
)
WORDS = SENTENCE.split(" ")
LETTERS = list("abcdefghijklmnopqrstuvwxyz") + [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"]
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "!", ",", "."] + WORDS + LETTERS

ARCHES = ("bert", "distilbert", "roberta", "deberta")
TEXTS = ["a great film , loved the acting", "the worst movie , boring plot and awful music !"]


def tiny_config(arch: str):
    from transformers import BertConfig, DebertaV2Config, DistilBertConfig, RobertaConfig

    # initializer_range 0.2 (not 0.02): a 2-layer random net then tells texts apart, as a
    # pretrained one does, so a few optimizer steps can lower the loss.
    common = dict(vocab_size=len(VOCAB), pad_token_id=0, initializer_range=0.2)
    if arch == "bert":
        return BertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=128,
            **common,
        )
    if arch == "distilbert":
        return DistilBertConfig(
            dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=128, **common
        )
    if arch == "roberta":
        return RobertaConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=37,
            max_position_embeddings=130,
            **common,
        )
    if arch == "deberta":
        # The DeBERTa-v3 layout: relative positions only (no absolute), c2p + p2c, buckets.
        return DebertaV2Config(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=37,
            max_position_embeddings=128,
            relative_attention=True,
            pos_att_type=["p2c", "c2p"],
            position_buckets=16,
            max_relative_positions=-1,
            norm_rel_ebd="layer_norm",
            share_att_key=True,
            position_biased_input=False,
            type_vocab_size=0,
            **common,
        )
    raise ValueError(arch)  # fmt: skip


def save_tiny_backbone(folder: Path, arch: str) -> Path:
    """A pretrained-looking folder: config, encoder weights (no head) and tokenizer."""
    from transformers import AutoModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = BertTokenizerFast(vocab={token: i for i, token in enumerate(VOCAB)})
    tokenizer.model_max_length = 128
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    AutoModel.from_config(tiny_config(arch)).save_pretrained(folder)
    return folder


def tiny_settings(backbone: Path, **values):
    """A TransformerConfig for a tiny backbone (short reviews, small batches, fp32)."""
    from sentibench.recipes.transformer.config import TransformerConfig

    base = dict(
        backbone=str(backbone), max_length=32, batch_size=4, eval_batch_size=8, epochs=1,
        lr=1e-3, num_virtual_tokens=4, encoder_hidden_size=8, prefix_hidden_size=16, lora_r=2,
        lora_alpha=4, warmup_ratio=0.0, mixed_precision="no",
    )  # fmt: skip
    base.update(values)
    return TransformerConfig(**base)


def encode(tokenizer, texts: list[str], max_length: int = 32) -> dict[str, torch.Tensor]:
    return tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                     return_tensors="pt", return_token_type_ids=False)  # fmt: skip


# Three classes from the tiny vocabulary: label id i is THREE_CLASSES[i] (negative, neutral,
# positive), each carried by its own words so that the head's k rows all matter.
THREE_CLASSES = ("negative", "neutral", "positive")
THREE_CLASS_TEXTS = {
    0: ["the worst film , awful plot", "boring and bad acting", "hated the awful music !"],
    1: ["the film was a movie", "plot , story and cast", "the end , the middle , the story"],
    2: ["a great film , loved the acting", "excellent fun and good music", "simply great !"],
}


def three_class_frame(split: str, repeat: int):
    """id, text, label, rating rows of every THREE_CLASS_TEXTS text, `repeat` times."""
    import pandas as pd

    rows = [
        {"id": f"{split}{label}_{i}_{k}", "text": text, "label": label, "rating": None}
        for k in range(repeat)
        for label, texts in THREE_CLASS_TEXTS.items()
        for i, text in enumerate(texts)
    ]
    return pd.DataFrame(rows)


def three_class_splits(repeat: int = 3):
    """Splits of a 3-class dataset built in memory (train 9 x repeat rows, no validation)."""
    from sentibench.data.dataset import Splits

    train, test = three_class_frame("train", repeat), three_class_frame("test", 1)
    return Splits(train, train.iloc[:0].copy(), test, "three-class", "0" * 64,
                  label_names=THREE_CLASSES)  # fmt: skip
