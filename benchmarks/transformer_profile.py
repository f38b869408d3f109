"""Where a CPU training step of MiniLM-L6 (minilm_full) spends its time, fp32 vs bf16, and
whether torch.compile pays -> BENCHMARKS.md (section transformer-profile, issue 18).

    python benchmarks/transformer_profile.py --threads 2             # profile + compile row
    python benchmarks/transformer_profile.py --threads 1 --reviews 16 --no-compile --no-write

transformer_speed.py measures throughput; this explains it. In one process, at --threads torch
threads, on --reviews reviews of the official train split (seeded, half per class) with the
shape transformer_speed.py measures (256 tokens, batch 16, length-grouped):

1. One epoch of the shared loop per precision under torch.profiler (after an untimed warm-up
   epoch): each operator's share of the self CPU time, grouped as matrix products (mm, addmm,
   bmm, oneDNN linear), attention (scaled_dot_product kernels), dtype casts (copy_, _to_copy)
   and the rest (element-wise, norms, softmax, dropout, embedding, the optimizer's updates),
   plus the AdamW step's total share and the top operators.
2. --compile (default on): the same epoch in the precision training uses on this CPU (bf16
   where it is native, else fp32) with the model wrapped in torch.compile(dynamic=True)
   (inductor on the CPU), after a warm-up epoch that compiles it: reviews/s beside the eager
   epoch's, and the compile seconds.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
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


def compiled_epoch(config: Any, tokenizer: Any, resolved: str, warm: EncodedReviews,
                   train: EncodedReviews, root: Path) -> dict[str, Any]:  # fmt: skip
    """An epoch of a torch.compile'd model in config's precision: compile warm-up seconds,
    timed epoch seconds and reviews/s."""
    runtime.apply(config.threads, config.seed)
    model = torch.compile(build_model(config, resolved, tokenizer), dynamic=True)
    model, warmup = timed_epoch(model, config, tokenizer, warm, root, "compile-warmup")
    _, seconds = timed_epoch(model, config, tokenizer, train, root, "compiled")
    return {"warmup_seconds": warmup, "seconds": seconds, "reviews_per_s": len(train) / seconds}


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
                              "reviews": len(train), "profiles": {}}  # fmt: skip
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
        if args.compile:  # in the precision training would use here
            result["compile_precision"] = "bf16" if native else "fp32"
            config = settings(speed_args, result["compile_precision"], "grouped")
            _, eager_seconds = train_once(config, tokenizer, resolved, train, root, "eager")
            started = time.perf_counter()
            try:
                result["compiled"] = compiled_epoch(config, tokenizer, resolved, warm, train, root)
            except Exception as exc:  # inductor needs a C++ compiler; say why it did not run
                result["compiled"] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
            result["compiled"]["wall_seconds"] = time.perf_counter() - started
            per_s = len(train) / eager_seconds
            result["eager"] = {"seconds": eager_seconds, "reviews_per_s": per_s}
            print(f"compiled: {result['compiled']}; eager {result['eager']}", flush=True)
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
        f"split of {result['data']} (256 tokens head+tail, batches of 16 grouped by length), "
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
    compiled = result.get("compiled")
    if compiled is not None:
        eager, precision = result["eager"], result["compile_precision"]
        if "error" in compiled:
            lines.append(f"- torch.compile ({precision}, dynamic=True) did not run: "
                         f"{compiled['error']}")  # fmt: skip
        else:
            ratio = compiled["reviews_per_s"] / eager["reviews_per_s"]
            lines.append(
                f"- torch.compile (inductor, dynamic=True), {precision}: "
                f"{compiled['reviews_per_s']:.2f} reviews/s against eager {precision} "
                f"{eager['reviews_per_s']:.2f} on the same epoch ({ratio:.2f}x), after "
                f"{compiled['warmup_seconds']:.0f} s of compiling warm-up."
            )
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
