"""Where a CPU training step of MiniLM-L6 (minilm_full) spends its time, fp32 vs bf16, and
whether torch.compile pays -> BENCHMARKS.md (section transformer-profile, issue 18).

    python benchmarks/transformer_profile.py --threads 2             # profile + switch rows
    python benchmarks/transformer_profile.py --threads 1 --reviews 16 --no-compile --no-write

transformer_speed.py measures throughput; this explains it. In one process, at --threads torch
threads, on --reviews reviews of the official train split (seeded, half per class) with the
shape transformer_speed.py measures (256 tokens, batch 16, length-grouped):

1. One epoch of the shared loop per precision under torch.profiler (after an untimed warm-up
   epoch): each operator's share of the self CPU time, grouped as matrix products (mm, addmm,
   bmm, oneDNN linear), attention (scaled_dot_product kernels), dtype casts (copy_, _to_copy)
   and the rest (element-wise, norms, softmax, dropout, embedding, the optimizer's updates),
   plus the AdamW step's total share and the top operators.
2. The speed switches of the transformer recipe, in the precision training uses on this CPU
   (bf16 where it is native, else fp32), each an epoch on the same reviews from the same
   seeded weights: attention_dropout 0.1 (MiniLM's own) or 0 (which lets attention run
   as SDPA's fused CPU kernel), eager or --compile (default on: torch.compile in place,
   inductor, dynamic shapes, as torch_compile = true does; after a warm-up epoch that
   compiles it). reviews/s of each against the default, and the compile seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sections import (  # benchmarks/ is on sys.path when run
    add_output_options,
    command_line,
    publish,
)
from transformer_speed import encoded, settings, timed_epoch, train_once
from transformers_minilm import subset

from sentibench import runtime
from sentibench.data.dataset import load_official
from sentibench.provenance import machine
from sentibench.transformers.backbone import load_tokenizer, resolve_backbone
from sentibench.transformers.modeling import build_model
from sentibench.transformers.tokenization import EncodedReviews

MATRIX_PRODUCTS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::mkldnn_linear"}
CASTS = {"aten::copy_", "aten::_to_copy"}
OTHER = "other (element-wise, norms, softmax, embedding, optimizer)"
BACKBONE_ATTENTION_DROPOUT = 0.1  # all-MiniLM-L6-v2's attention_probs_dropout_prob


def group_of(name: str) -> str:
    if "scaled_dot_product" in name:
        return "attention"
    if name in MATRIX_PRODUCTS:
        return "matrix products"
    return "dtype casts" if name in CASTS else OTHER


def profiled_epoch(config: Any, tokenizer: Any, resolved: str, train: EncodedReviews,
                   root: Path, name: str, top: int) -> dict[str, Any]:  # fmt: skip
    from torch.profiler import ProfilerActivity, profile

    runtime.apply(config.threads, config.seed)  # built outside the profile: the epoch's shares
    model = build_model(config, resolved, tokenizer)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        _, seconds = timed_epoch(model, config, tokenizer, train, root, name)
    averages = prof.key_averages()
    events = [e for e in averages if e.self_cpu_time_total > 0]
    total = sum(e.self_cpu_time_total for e in events)
    shares: dict[str, float] = {}
    for event in events:
        group = group_of(event.key)
        shares[group] = shares.get(group, 0.0) + event.self_cpu_time_total / total
    step = [e for e in averages if e.key.startswith("Optimizer.step#")]
    ranked = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:top]
    return {
        "seconds": seconds,
        "reviews_per_s": len(train) / seconds,
        "groups": dict(sorted(shares.items(), key=lambda kv: -kv[1])),
        "optimizer_step": sum(e.cpu_time_total for e in step) / total if step else None,
        "top": [(e.key, e.self_cpu_time_total / total, e.count) for e in ranked],
    }


def switched_epoch(
    config: Any,
    tokenizer: Any,
    resolved: str,
    warm: EncodedReviews,
    train: EncodedReviews,
    root: Path,
    compiled: bool,
) -> dict[str, Any]:
    """An epoch in config's precision and attention dropout, eager or compiled in place as the
    recipe's torch_compile does: seconds, reviews/s (and the compiling warm-up's seconds)."""
    from sentibench.recipes.transformer.native import COMPILE_BACKEND

    name = f"dropout{config.attention_dropout}-{'compiled' if compiled else 'eager'}"
    if not compiled:
        _, seconds = train_once(config, tokenizer, resolved, train, root, name)
        return {"seconds": seconds, "reviews_per_s": len(train) / seconds}
    runtime.apply(config.threads, config.seed)
    model = build_model(config, resolved, tokenizer)
    model.compile(backend=COMPILE_BACKEND, dynamic=True)
    model, warmup = timed_epoch(model, config, tokenizer, warm, root, f"{name}-warmup")
    _, seconds = timed_epoch(model, config, tokenizer, train, root, name)
    return {"warmup_seconds": warmup, "seconds": seconds, "reviews_per_s": len(train) / seconds}


def switch_rows(
    args: argparse.Namespace,
    precision: str,
    tokenizer: Any,
    resolved: str,
    warm: EncodedReviews,
    train: EncodedReviews,
    root: Path,
) -> list[dict[str, Any]]:
    """Every (attention dropout, compile) pair, MiniLM's own dropout eager first; a failed
    compile says why."""
    rows = []
    for dropout in (BACKBONE_ATTENTION_DROPOUT, 0.0):  # set either way: the preset has its own
        speed_args = argparse.Namespace(threads=args.threads, batch_tokens=0,
                                        overrides=[f"attention_dropout={dropout}"],
                                        seed=args.seed)  # fmt: skip
        config = settings(speed_args, precision, "grouped")
        for compiled in (False, True) if args.compile else (False,):
            row: dict[str, Any] = {"attention_dropout": dropout, "compiled": compiled}
            try:
                row.update(switched_epoch(config, tokenizer, resolved, warm, train, root, compiled))
            except Exception as exc:  # inductor needs a C++ compiler; say why it did not run
                row["error"] = f"{type(exc).__name__}: {exc}"[:300]
            print(f"switches: {row}", flush=True)
            rows.append(row)
    return rows


def measure(args: argparse.Namespace) -> dict[str, Any]:
    runtime.set_threads(args.threads)
    native = runtime.native_cpu_bf16()
    speed_args = argparse.Namespace(threads=args.threads, batch_tokens=0, overrides=[],
                                    seed=args.seed)  # fmt: skip
    train_frame, _, source, _ = load_official(args.data)
    base = settings(speed_args, "fp32", "grouped")
    resolved = resolve_backbone(base.backbone)
    tokenizer = load_tokenizer(resolved, False)
    train = encoded(base, tokenizer, subset(train_frame, args.reviews, args.seed))
    warm = EncodedReviews(train.ids[:16], train.labels[:16])
    result: dict[str, Any] = {"native_bf16": native, "threads": args.threads, "data": source,
                              "reviews": len(train), "profiles": {},
                              "attention_dropout": base.attention_dropout}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="sentibench-profile-") as tmp:
        root = Path(tmp)
        for precision in ("fp32", "bf16") if native else ("fp32",):
            config = settings(speed_args, precision, "grouped")
            train_once(config, tokenizer, resolved, warm, root, f"warmup-{precision}")
            found = profiled_epoch(config, tokenizer, resolved, train, root, precision, args.top)
            result["profiles"][precision] = found
            print(f"{precision}: {found['reviews_per_s']:.2f} reviews/s (profiled)", flush=True)
            for group, share in found["groups"].items():
                print(f"  {share:6.1%} {group}", flush=True)
        result["switch_precision"] = "bf16" if native else "fp32"  # what training uses here
        result["switches"] = switch_rows(args, result["switch_precision"], tokenizer, resolved,
                                         warm, train, root)  # fmt: skip
    return result


def section(result: dict[str, Any]) -> str:
    info = machine()
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    profiles = result["profiles"]
    groups = list(dict.fromkeys(g for p in profiles.values() for g in p["groups"]))
    lines = [
        "## Where a CPU training step goes: MiniLM-L6 under torch.profiler (issue 18)",
        "",
        f"- Command: `{command_line('transformer_profile.py')}` ({when} UTC)",
        f"- Machine: {info['cores']} cores ({info['cpu']}), native bf16: "
        f"{result['native_bf16'] or 'no'}; {result['threads']} torch threads.",
        f"- One epoch of the shared loop on {result['reviews']} reviews of the official train "
        f"split of {result['data']} (256 tokens head+tail, batches of 16 grouped by length, "
        f"attention dropout {result.get('attention_dropout')} as the cpu preset), "
        "profiled after a warm-up epoch; shares of the self CPU time.",
        "",
        "| precision | reviews/s (profiled) | " + " | ".join(groups) + " | AdamW step (total) |",
        "|---|---|" + "---|" * len(groups) + "---|",
    ]
    for precision, p in profiles.items():
        cells = [f"{p['groups'].get(g, 0.0):.1%}" for g in groups]
        step = "-" if p["optimizer_step"] is None else f"{p['optimizer_step']:.1%}"
        lines.append(f"| {precision} | {p['reviews_per_s']:.2f} | " + " | ".join(cells)
                     + f" | {step} |")  # fmt: skip
    for precision, p in profiles.items():
        top = ", ".join(f"{name} {share:.1%} ({count})" for name, share, count in p["top"])
        lines += ["", f"- Top operators, {precision} (self time, calls): {top}."]
    rows = result.get("switches", [])
    if rows:
        default = rows[0].get("reviews_per_s")
        lines += [
            "",
            f"Speed switches of the transformer recipe ({result['switch_precision']}, the same "
            "reviews, each epoch from the same seeded weights, one after the other):",
            "",
            "| attention_dropout | torch_compile | reviews/s | vs row 1 | compiling warm-up s |",
            "|---|---|---|---|---|",
        ]
        for row in rows:
            dropout = row["attention_dropout"]
            if dropout == BACKBONE_ATTENTION_DROPOUT:
                dropout = f"{dropout} (MiniLM's own)"
            if "error" in row:
                lines.append(f"| {dropout} | {row['compiled']} | did not run: {row['error']} |||")
                continue
            ratio = f"{row['reviews_per_s'] / default:.2f}x" if default else "-"
            warmup = f"{row['warmup_seconds']:.0f}" if "warmup_seconds" in row else "-"
            lines.append(f"| {dropout} | {row['compiled']} | {row['reviews_per_s']:.2f} | "
                         f"{ratio} | {warmup} |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="imdb", help="imdb | sample | a prepared folder")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reviews", type=int, default=96, help="training reviews profiled")
    parser.add_argument("--top", type=int, default=8, help="operators listed per precision")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--seed", type=int, default=0)
    add_output_options(parser, json_file=True)
    args = parser.parse_args()
    result = measure(args)
    publish("transformer-profile", section(result), args, figures=result)


if __name__ == "__main__":
    sys.exit(main())
