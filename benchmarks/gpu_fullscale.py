"""Issue 18 on a lent GPU: the five MiniLM methods on the full IMDB split in bf16, and the step
time and memory of a DeBERTa-v3-base-shaped model at the gpu presets' settings -> BENCHMARKS.md.

Prepared here, run there (the device machine reaches nothing; 64 MiB travel per call):

    python benchmarks/gpu_fullscale.py pack --out .devpack        # here, once (~60 MB)
    # on the device, carrying .devpack (its python3 has torch, transformers, peft, accelerate):
    PYTHONPATH=src python3 benchmarks/gpu_fullscale.py run --pack .devpack --out $OUT/gpu.json
    python benchmarks/gpu_fullscale.py summarise --figures gpu.json   # here -> BENCHMARKS.md

pack: the bundled MiniLM-L6 as fp16 safetensors with its config and tokenizer (loaded back as
fp32 master weights), and the IMDB split encoded as the minilm cpu presets encode it (256
tokens, head 64 + tail), carved as they carve it (validation 10%, seed 0): uint16 ids, lzma.

run, part 1: minilm_full, _lora, _ptuning, _prompt, _prefix, each its cpu preset on CUDA with
bf16 autocast (mixed_precision "bf16"): train on the 22,500 reviews, validate on the 2,500,
score the 25,000 test reviews; accuracy (Wilson 95%), seconds, reviews/s, peak memory.
run, part 2: DeBERTa-v3-base's shape (hidden 768, 12 layers, 12 heads, FFN 3,072, vocabulary
128,100, relative attention), random weights from a config built here: 512 tokens, bf16,
gradient checkpointing, batch 2 x accumulation 8 (the gpu presets), --steps optimizer steps
after a warm-up step: seconds per step and peak memory; scoring reviews/s at batch 64. From
them, the predicted wall time of each transformer of the published suite on one such GPU.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sections import add_output_options, publish  # benchmarks/ is on sys.path when run

MODELS = ("minilm_full", "minilm_lora", "minilm_ptuning", "minilm_prompt", "minilm_prefix")
SPLITS = ("train", "validation", "test")
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
IDS_FILE = "imdb_ids.npz.xz"
# Backbone shapes of the published suite (the hub is out of reach here): hidden, layers, FFN.
SHAPES = {
    "bert-base-uncased": (768, 12, 3072),
    "distilbert-base-uncased": (768, 6, 3072),
    "roberta-base": (768, 12, 3072),
    "microsoft/deberta-v3-base": (768, 12, 3072),
}


def synchronize() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def reset_peak() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float | None:
    from sentibench.provenance import peak_gpu_mib

    mib = peak_gpu_mib()
    return None if mib is None else mib / 2**10


def preset_config(model: str, preset: str, overrides: list[str]) -> Any:
    from sentibench.registry import get_spec
    from sentibench.train.runner import resolve_config

    spec = get_spec(model)
    config, _ = resolve_config(spec, spec.load_recipe(), preset, None, overrides, 0)
    return config


def pack(args: argparse.Namespace) -> None:
    """The MiniLM weights (fp16) and the encoded, carved IMDB split, into args.out."""
    import torch
    from safetensors.torch import load_file, save_file

    from sentibench.data.dataset import load_splits
    from sentibench.transformers.backbone import load_tokenizer, resolve_backbone
    from sentibench.transformers.tokenization import ReviewEncoder

    config = preset_config(MODELS[0], "cpu", [])
    resolved = Path(resolve_backbone(config.backbone))
    out = Path(args.out)
    (out / "minilm").mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        shutil.copy(resolved / name, out / "minilm" / name)
    weights = load_file(str(resolved / "model.safetensors"))
    save_file(
        {k: v.to(torch.float16) for k, v in weights.items()},
        str(out / "minilm" / "model.safetensors"),
        metadata={"format": "pt"},
    )
    splits = load_splits(args.data, val_fraction=config.val_fraction, seed=config.seed)
    encoder = ReviewEncoder(
        load_tokenizer(str(resolved)), config.max_length, config.truncation, config.head_tokens
    )
    arrays: dict[str, np.ndarray] = {}
    for split, frame in zip(SPLITS, (splits.train, splits.validation, splits.test), strict=True):
        ids = encoder.encode(frame["text"].tolist())
        assert max(max(r) for r in ids) < 2**16, "token ids must fit uint16"
        arrays[f"{split}_ids"] = np.concatenate([np.asarray(r, dtype=np.uint16) for r in ids])
        arrays[f"{split}_offsets"] = np.cumsum([0, *map(len, ids)]).astype(np.int64)
        arrays[f"{split}_labels"] = frame["label"].to_numpy(dtype=np.int8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (out / IDS_FILE).write_bytes(lzma.compress(buffer.getvalue(), preset=9))
    encoding = {k: getattr(config, k) for k in ("max_length", "truncation", "head_tokens")}
    meta = {
        "data": splits.source,
        "sha256": splits.sha256,
        "encoding": encoding,
        "counts": {s: int(len(arrays[f"{s}_labels"])) for s in SPLITS},
    }
    (out / "pack.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"packed {meta['counts']} into {out} ({size / 2**20:.1f} MiB)")


def read_pack(folder: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """pack.json and split -> EncodedReviews."""
    from sentibench.transformers.tokenization import EncodedReviews

    meta = json.loads((folder / "pack.json").read_text(encoding="utf-8"))
    arrays = np.load(io.BytesIO(lzma.decompress((folder / IDS_FILE).read_bytes())))
    data = {}
    for split in SPLITS:
        flat, offsets = arrays[f"{split}_ids"].astype(np.int64), arrays[f"{split}_offsets"]
        ids = [flat[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:], strict=True)]
        data[split] = EncodedReviews(ids, arrays[f"{split}_labels"].tolist())
    return meta, data


def train_method(
    model_name: str,
    pack_dir: Path,
    meta: dict[str, Any],
    data: dict[str, Any],
    overrides: list[str],
    root: Path,
) -> dict[str, Any]:
    """One minilm preset, bf16 on this GPU, on the packed split: the figures of its row."""

    from sentibench import runtime
    from sentibench.metrics import wilson_interval
    from sentibench.recipes.transformer.native import train_native
    from sentibench.recipes.transformer.predictor import TransformerPredictor
    from sentibench.runs import RunDir
    from sentibench.transformers.backbone import load_tokenizer
    from sentibench.transformers.modeling import build_model

    backbone = str(pack_dir / "minilm")
    config = preset_config(
        model_name, "cpu", [f'backbone="{backbone}"', 'mixed_precision="bf16"', *overrides]
    )
    encoding = {k: getattr(config, k) for k in meta["encoding"]}
    if encoding != meta["encoding"]:
        raise SystemExit(f"{model_name} encodes as {encoding}, the pack as {meta['encoding']}")
    runtime.apply(config.threads, config.seed)
    tokenizer = load_tokenizer(backbone)
    model = build_model(config, backbone, tokenizer)
    run = RunDir(root / model_name)
    run.create()
    reset_peak()
    synchronize()
    started = time.perf_counter()
    model, _ = train_native(model, tokenizer, data["train"], data["validation"], config, run)
    synchronize()
    train_seconds = time.perf_counter() - started
    predictor = TransformerPredictor(model, tokenizer, config, backbone)
    started = time.perf_counter()
    logits = predictor.logits_of_ids(data["test"].ids)
    test_seconds = time.perf_counter() - started
    right = int((logits.argmax(axis=1) == np.asarray(data["test"].labels)).sum())
    n, history = len(data["test"]), run.history()
    return {
        "model": model_name,
        "method": config.method,
        "epochs": config.epochs,
        "lr": config.lr,
        "accuracy": right / n,
        "ci95": wilson_interval(right, n),
        "val_accuracy": max((r.get("val_accuracy") or 0.0) for r in history),
        "train_seconds": train_seconds,
        "test_seconds": test_seconds,
        "train_reviews_per_s": len(data["train"]) * config.epochs / train_seconds,
        "test_reviews_per_s": n / test_seconds,
        "peak_gib": peak_gib(),
    }


def deberta_shaped(steps: int, max_length: int = 512) -> dict[str, Any]:
    """Step time and peak memory of DeBERTa-v3-base's shape at the gpu presets' settings."""
    import torch
    from transformers import AutoModelForSequenceClassification, DebertaV2Config

    from sentibench.recipes.transformer.predictor import autocast, best_device

    config = DebertaV2Config(
        vocab_size=128_100,
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        position_biased_input=False,
        type_vocab_size=0,
        max_relative_positions=-1,
        num_labels=2,
    )
    on = best_device()
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config).to(on)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5, weight_decay=0.01)
    batch, accumulation = 2, 8
    generator = torch.Generator(device=on).manual_seed(0)

    def inputs(size: int) -> dict[str, torch.Tensor]:
        ids = torch.randint(1000, 128_000, (size, max_length), device=on, generator=generator)
        labels = torch.randint(0, 2, (size,), device=on, generator=generator)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}

    def optimizer_step() -> None:
        for _ in range(accumulation):
            with autocast("bf16", on):
                loss = model(**inputs(batch)).loss / accumulation
            loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    model.train()
    optimizer_step()  # warm-up: kernels chosen, optimizer state allocated
    reset_peak()
    synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        optimizer_step()
    synchronize()
    step_seconds = (time.perf_counter() - started) / steps
    peak = peak_gib()
    model.eval()
    with torch.no_grad(), autocast("bf16", on):
        model(**inputs(64))
        synchronize()
        started = time.perf_counter()
        for _ in range(5):
            model(**inputs(64))
        synchronize()
    score_per_s = 5 * 64 / (time.perf_counter() - started)
    return {
        "steps": steps,
        "reviews_per_step": batch * accumulation,
        "max_length": max_length,
        "step_seconds": step_seconds,
        "peak_gib": peak,
        "train_reviews_per_s": batch * accumulation / step_seconds,
        "score_reviews_per_s": score_per_s,
    }


def suite_prediction(measured: dict[str, Any], train_reviews: int, test_reviews: int) -> list:
    """Each transformer run of the published suite: its training reviews x epochs at the
    measured DeBERTa-shaped rate, scaled by training FLOPs per review for other backbones,
    plus scoring the test split; an estimate, not a measurement."""
    from types import SimpleNamespace

    from sentibench.bench.suite import load_suite
    from sentibench.registry import get_spec
    from sentibench.transformers.flops import encoder_forward_flops

    def flops(backbone: str, length: int) -> int:
        h, layers, ffn = SHAPES[backbone]
        shape = SimpleNamespace(hidden_size=h, num_hidden_layers=layers, intermediate_size=ffn)
        return encoder_forward_flops(shape, [length])

    reference = flops("microsoft/deberta-v3-base", measured["max_length"])
    rows = []
    for run in load_suite("published").runs:
        if get_spec(run.model).family != "transformer":
            continue
        config = preset_config(run.model, run.preset, [])
        if config.backbone not in SHAPES:
            continue
        scale = flops(config.backbone, config.max_length) / reference
        n_train = round(train_reviews * (1 - config.val_fraction))
        seconds = (
            n_train * config.epochs / measured["train_reviews_per_s"]
            + test_reviews / measured["score_reviews_per_s"]
        ) * scale
        rows.append(
            {
                "model": run.model,
                "backbone": config.backbone,
                "method": config.method,
                "epochs": config.epochs,
                "flops_vs_deberta": scale,
                "seconds": seconds,
            }
        )
    return rows


def run_on_gpu(args: argparse.Namespace) -> None:
    import torch

    from sentibench.errors import CollapseError
    from sentibench.transformers.tokenization import EncodedReviews

    if not (torch.cuda.is_available() or args.smoke):
        raise SystemExit("run needs a CUDA GPU (the device machine); --smoke tries it on a CPU")
    pack_dir = Path(args.pack).resolve()
    meta, data = read_pack(pack_dir)
    if args.smoke:  # the code paths on a few reviews, and a short DeBERTa-shaped model input
        n = args.reviews
        data = {s: EncodedReviews(d.ids[:n], d.labels[:n]) for s, d in data.items()}
        meta["counts"] = {s: len(d) for s, d in data.items()}
    figures: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else "CPU (smoke)",
        "smoke": args.smoke,
        "torch": torch.__version__,
        "pack": meta,
        "methods": [],
        "failed": [],
        "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
    }
    out = Path(args.out)
    with tempfile.TemporaryDirectory(prefix="sentibench-gpu-") as tmp:
        for model_name in [m for m in MODELS if m in args.models.split(",")]:
            try:
                row = train_method(model_name, pack_dir, meta, data, args.overrides, Path(tmp))
            except CollapseError as exc:  # an error to read, never a row of the table
                figures["failed"].append({"model": model_name, "error": str(exc)})
                print(f"{model_name}: {exc}", flush=True)
                continue
            figures["methods"].append(row)
            print(json.dumps(row), flush=True)
            out.write_text(json.dumps(figures, indent=2), encoding="utf-8")  # keep what ran
    if args.steps > 0:
        figures["deberta_shaped"] = deberta_shaped(args.steps, 32 if args.smoke else 512)
        total = sum(meta["counts"][s] for s in ("train", "validation"))
        figures["suite"] = suite_prediction(
            figures["deberta_shaped"], total, meta["counts"]["test"]
        )
        print(json.dumps(figures["deberta_shaped"]), flush=True)
    out.write_text(json.dumps(figures, indent=2), encoding="utf-8")


def gib(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def section(figures: dict[str, Any]) -> str:
    meta = figures["pack"]
    counts = meta["counts"]
    lines = [
        "## MiniLM methods on the full IMDB split on a GPU, bf16 (issue 18)",
        "",
        f"- Command: `PYTHONPATH=src python3 benchmarks/gpu_fullscale.py run --pack .devpack` "
        f"on one {figures['gpu']} (torch {figures['torch']}), {figures['started']} UTC.",
        f"- Data: {meta['data']} ({meta['sha256'][:8]}), {counts['train']:,} train / "
        f"{counts['validation']:,} validation / the full {counts['test']:,} test reviews, "
        f"encoded as the cpu presets encode ({meta['encoding']}); each model's cpu preset "
        "with mixed_precision bf16.",
        "",
        "| model | method | epochs | val acc | test acc | 95% CI | train s | train reviews/s "
        "| test reviews/s | peak GiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in figures["methods"]:
        low, high = r["ci95"]
        lines.append(
            f"| {r['model']} | {r['method']} | {r['epochs']} | {r['val_accuracy']:.4f} "
            f"| **{r['accuracy']:.4f}** | {low:.4f}-{high:.4f} | {r['train_seconds']:.0f} "
            f"| {r['train_reviews_per_s']:.0f} | {r['test_reviews_per_s']:.0f} "
            f"| {gib(r['peak_gib'])} |"
        )
    for failed in figures.get("failed", []):
        lines.append(f"- {failed['model']} did not train: {failed['error']}")
    shaped = figures.get("deberta_shaped")
    if shaped:
        lines += [
            "",
            f"DeBERTa-v3-base-shaped model (random weights), {shaped['max_length']} tokens, bf16, "
            f"gradient checkpointing, batch 2 x accumulation 8: {shaped['step_seconds']:.3f} s "
            f"per optimizer step over {shaped['steps']} steps "
            f"({shaped['train_reviews_per_s']:.1f} reviews/s), peak {gib(shaped['peak_gib'])} GiB; "
            f"scoring {shaped['score_reviews_per_s']:.0f} reviews/s at batch 64.",
            "",
            "Predicted wall time of the published suite's transformers on this GPU (an "
            "estimate: measured rate x training reviews x epochs + test scoring, scaled by "
            "encoder FLOPs per review for other backbones, which ignores DeBERTa's costlier "
            "attention and so over-predicts BERT-likes; measured with every weight training, so it "
            "over-predicts the adapter methods too):",
            "",
            "| model | backbone | method | epochs | FLOPs vs DeBERTa | predicted h |",
            "|---|---|---|---|---|---|",
        ]
        for r in figures["suite"]:
            lines.append(
                f"| {r['model']} | {r['backbone']} | {r['method']} | {r['epochs']} "
                f"| {r['flops_vs_deberta']:.2f} | {r['seconds'] / 3600:.2f} |"
            )
        total = sum(r["seconds"] for r in figures["suite"]) / 3600
        lines.append(f"| all | | | | | **{total:.1f}** |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    packing = verbs.add_parser("pack", help="here: weights and encoded split into a folder")
    packing.add_argument("--out", type=Path, default=Path(".devpack"))
    packing.add_argument("--data", default="imdb")
    running = verbs.add_parser("run", help="on the GPU: train, score, time -> a JSON file")
    running.add_argument("--pack", type=Path, default=Path(".devpack"))
    running.add_argument("--out", type=Path, required=True)
    running.add_argument("--models", default=",".join(MODELS))
    running.add_argument("--steps", type=int, default=50, help="DeBERTa-shaped steps; 0: skip")
    running.add_argument("--set", dest="overrides", action="append", default=[])
    running.add_argument("--smoke", action="store_true", help="--reviews a split, CPU allowed")
    running.add_argument("--reviews", type=int, default=48, help="reviews a split with --smoke")
    summarising = verbs.add_parser("summarise", help="here: a run's JSON -> BENCHMARKS.md")
    summarising.add_argument("--figures", type=Path, required=True)
    add_output_options(summarising)
    args = parser.parse_args()
    if args.verb == "pack":
        pack(args)
    elif args.verb == "run":
        run_on_gpu(args)
    else:
        figures = json.loads(args.figures.read_text(encoding="utf-8"))
        if figures.get("smoke") and not args.no_write:  # a subset's figures, not the section's
            raise SystemExit(
                f"{args.figures} holds a --smoke run's figures: read them with --no-write"
            )
        publish("gpu-fullscale", section(figures), args)


if __name__ == "__main__":
    sys.exit(main())
