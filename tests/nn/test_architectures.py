"""Every classic net of the registry (and the toy net of model_battery.py): shapes, gradients,
padding invariance, overfitting; then the code paths of particular modules and config errors.

The registry's nets take the sizes of their `quick` preset (small, and every classic net has
one); random 12-d vectors over 40 words keep the file fast on one core. Every model is built
through its module's `build(config, vectors, pad_index, freeze_embeddings)` as the recipe does.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

import pytest
import torch
import torch.nn.functional as F
from model_battery import TOY, classic_nets
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sentibench.config import apply_values, read_toml
from sentibench.errors import ConfigError
from sentibench.nn import (
    attention_lstm,
    capsule_lstm,
    cnn,
    cnnlstm,
    embedding,
    rnn,
    transformer_encoder,
)
from sentibench.registry import get_spec

torch.set_num_threads(1)

VOCAB, DIM, PAD, SIGNAL = 40, 12, 0, 1  # token 1 is the signal in the overfitting task

# Variants whose masking takes another code path (layer stacking, pooling, positions):
# name -> (module, tiny config fields).
VARIANTS = {
    "gru_2layers_pooled": (rnn, {"cell": "gru", "hidden": 8, "layers": 2, "pool_outputs": True}),
    "cnnlstm_k5_unpooled": (cnnlstm, {"filters": 8, "hidden": 8, "kernel_size": 5, "pool": False}),
    "transformer_sinusoidal": (
        transformer_encoder,
        {"d_model": 16, "layers": 2, "heads": 2, "ffn": 32, "positions": "sinusoidal"},
    ),
}
NETS = classic_nets()  # the registry's classic nets, then the toy
ALL = [*NETS, *VARIANTS]
# cuda runs where there is a GPU (the same checks under cuDNN kernels); TF32 and other batch-size
# dependent kernels there make 1e-4 the honest tolerance.
DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")),
]
TOLERANCE = {"cpu": 1e-5, "cuda": 1e-4}


def net_module(name: str) -> ModuleType:
    return VARIANTS[name][0] if name in VARIANTS else importlib.import_module(get_spec(name).module)


def make_model(name: str, freeze: bool = False, n_classes: int = 2, **overrides) -> torch.nn.Module:
    """A registry net at its quick preset's sizes (or a variant), `overrides` on its Config;
    `n_classes` logits (passed to build only when not 2, as the recipe does)."""
    module = net_module(name)
    if name in VARIANTS:
        config = module.Config(**{**VARIANTS[name][1], **overrides})
    else:
        spec = get_spec(name)
        quick = apply_values(spec.load_recipe().config_cls(), read_toml(spec.preset_path("quick")))
        config = apply_values(quick.model, overrides)
    torch.manual_seed(0)
    vectors = torch.randn(VOCAB, DIM)  # a non-zero pad row: the models must mask, not rely on 0
    if n_classes != 2:
        return module.build(config, vectors, PAD, freeze, n_classes=n_classes)
    return module.build(config, vectors, PAD, freeze)


def without_dropout(name: str) -> dict[str, float]:
    """Every dropout rate of the net's Config at 0 (overfitting wants none)."""
    fields = dataclasses.fields(net_module(name).Config)
    return {f.name: 0.0 for f in fields if f.name.endswith("dropout")}


def padded_batch(
    lengths: list[int], seed: int = 1, device: str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random non-pad tokens up to each length, PAD after it, T = max(lengths)."""
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (len(lengths), max(lengths)), generator=generator)
    lengths_t = torch.tensor(lengths)
    ids[embedding.padding_mask(lengths_t, ids.shape[1]).logical_not()] = PAD
    return ids.to(device), lengths_t.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL)
def test_forward_shape_and_finite_gradients(name: str, device: str) -> None:
    model = make_model(name).to(device)
    model.train()
    ids, lengths = padded_batch([6, 1, 3, 9], device=device)
    logits = model(ids, lengths)
    assert logits.shape == (4, 2) and logits.dtype == torch.float32
    F.cross_entropy(logits, torch.tensor([0, 1, 1, 0], device=device)).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values()), name
    assert model.embedding.weight.grad.abs().sum() > 0  # the embedding is being fine-tuned
    assert model.embedding.weight.grad[PAD].abs().sum() == 0  # never the pad row


@pytest.mark.parametrize("name", [n for n in NETS if n != TOY])
def test_a_k_class_head_gives_k_logits(name: str) -> None:
    model = make_model(name, n_classes=5).eval()
    ids, lengths = padded_batch([6, 1, 3])
    assert model(ids, lengths).shape == (3, 5)
    assert model.classifier.out_features == 5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ALL)
def test_padding_does_not_change_logits(name: str, device: str) -> None:
    model = make_model(name).to(device).eval()
    lengths = [7, 1, 4, 2, 9, 3]
    ids, lengths_t = padded_batch(lengths, device=device)
    atol = TOLERANCE[device]
    with torch.no_grad():
        logits = model(ids, lengths_t)
        more_padding = F.pad(ids, (0, 6), value=PAD)
        torch.testing.assert_close(model(more_padding, lengths_t), logits, atol=atol, rtol=0)
        for row, length in enumerate(lengths):  # each review alone, with no padding at all
            alone = model(ids[row : row + 1, :length], lengths_t[row : row + 1])
            torch.testing.assert_close(alone[0], logits[row], atol=atol, rtol=0)
    # Guard against a vacuous pass: different reviews must get different logits.
    assert (logits - logits[0]).abs().max() > 1e-4


def signal_task(n: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n reviews of 2..10 tokens; label 1 iff the review contains the SIGNAL token somewhere."""
    generator = torch.Generator().manual_seed(2)
    lengths = torch.randint(2, 11, (n,), generator=generator)
    ids, lengths = padded_batch(lengths.tolist(), seed=3)
    labels = torch.arange(n) % 2
    where = (torch.rand(n, generator=generator) * lengths).long()  # a real position per row
    ids[labels == 1, where[labels == 1]] = SIGNAL
    return ids, lengths, labels


@pytest.mark.parametrize("name", NETS)
def test_overfits_64_examples(name: str) -> None:
    model = make_model(name, **without_dropout(name))
    ids, lengths, labels = signal_task()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    accuracy = 0.0
    for _ in range(300):
        model.train()
        loss = F.cross_entropy(model(ids, lengths), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            accuracy = (model(ids, lengths).argmax(1) == labels).float().mean().item()
        if accuracy == 1.0:
            break
    assert accuracy == 1.0, f"{name} reached {accuracy:.3f} training accuracy"


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_birnn_matches_torch_packed_bidirectional_rnn(cell: str) -> None:
    """BiRNN is pack_padded_sequence's result computed without packing: same weights, same out."""
    torch.manual_seed(0)
    ours = rnn.BiRNN(cell, DIM, hidden=6, layers=2, dropout=0.0)
    reference = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(
        DIM, 6, num_layers=2, bidirectional=True, batch_first=True
    )
    with torch.no_grad():
        for layer in range(2):
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(ours.forward_rnns[layer], f"{name}_l0").copy_(
                    getattr(reference, f"{name}_l{layer}")
                )
                getattr(ours.backward_rnns[layer], f"{name}_l0").copy_(
                    getattr(reference, f"{name}_l{layer}_reverse")
                )
    lengths = torch.tensor([5, 1, 8, 3])
    x = torch.randn(4, 8, DIM) * embedding.padding_mask(lengths, 8).unsqueeze(-1)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    packed_out, hidden = reference(packed)
    expected_out, _ = pad_packed_sequence(packed_out, batch_first=True, total_length=8)
    h_n = hidden[0] if cell == "lstm" else hidden
    outputs, final = ours(x, lengths)
    torch.testing.assert_close(outputs, expected_out, atol=1e-6, rtol=0)
    torch.testing.assert_close(final, torch.cat([h_n[-2], h_n[-1]], dim=1), atol=1e-6, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no GPU")
@pytest.mark.parametrize("name", ALL)
def test_bf16_autocast_on_gpu_gives_finite_gradients(name: str) -> None:
    """What the training loop's mixed precision does: masks and -inf must survive bf16."""
    model = make_model(name).cuda().train()
    ids, lengths = padded_batch([6, 1, 3, 9], device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(ids, lengths)
    F.cross_entropy(logits.float(), torch.tensor([0, 1, 1, 0], device="cuda")).backward()
    assert torch.isfinite(logits).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_frozen_embedding_keeps_vectors() -> None:
    model = make_model("lstm", freeze=True)
    torch.manual_seed(0)
    vectors = torch.randn(VOCAB, DIM)
    assert not model.embedding.weight.requires_grad
    assert model.embedding.padding_idx == PAD
    torch.testing.assert_close(model.embedding.weight, vectors)


def test_attention_weights_sum_to_one_over_real_tokens_only() -> None:
    model = make_model("attention_lstm").eval()
    ids, lengths = padded_batch([5, 2, 8])
    with torch.no_grad():
        _, alpha = model.attend(ids, lengths)
    mask = embedding.padding_mask(lengths, ids.shape[1])
    torch.testing.assert_close(alpha.sum(dim=1), torch.ones(3))
    assert (alpha[~mask] == 0).all() and (alpha[mask] > 0).all()


def test_squash_keeps_direction_and_maps_length_into_unit_interval() -> None:
    s = torch.tensor([[0.0, 0.0], [0.1, 0.0], [3.0, 4.0], [300.0, 400.0]])
    v = capsule_lstm.squash(s)
    lengths = v.norm(dim=-1)
    # |v| = |s|^2 / (1 + |s|^2): 0, 0.01/1.01, 25/26, ~1; the seed's unit-norm "squash" gave 1s.
    expected = torch.tensor([0.0, 0.01 / 1.01, 25 / 26, 250000 / 250001])
    torch.testing.assert_close(lengths, expected)
    torch.testing.assert_close(v[2] / lengths[2], torch.tensor([0.6, 0.8]))


def test_transformer_rejects_rows_longer_than_its_positions() -> None:
    model = make_model("transformer", max_positions=8)
    ids, lengths = padded_batch([9, 3])
    with pytest.raises(ConfigError, match="max_positions"):
        model(ids, lengths)


@pytest.mark.parametrize(
    ("module", "fields"),
    [
        (rnn, {"hidden": -8}),
        (rnn, {"layers": 0}),
        (rnn, {"dropout": 1.0}),
        (rnn, {"embedding_dropout": -0.1}),
        (cnn, {"widths": []}),
        (cnn, {"widths": [3, 0]}),
        (cnn, {"filters": 0}),
        (attention_lstm, {"attention_dim": 0}),
        (capsule_lstm, {"routings": 0}),
        (cnnlstm, {"kernel_size": 4}),
        (transformer_encoder, {"d_model": 16, "heads": 3}),
        (transformer_encoder, {"attention_dropout": 1.5}),
    ],
)
def test_invalid_config_raises_config_error(module, fields) -> None:
    with pytest.raises(ConfigError):
        module.Config(**fields)


def test_build_rejects_pad_index_outside_vocabulary() -> None:
    with pytest.raises(ConfigError, match="pad_index"):
        cnn.build(cnn.Config(), torch.zeros(5, 4), pad_index=5, freeze_embeddings=False)
