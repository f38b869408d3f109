"""Inference speed on CPU: a fine-tuned MiniLM-L6 against transformers.pipeline, the other
runs' throughput, and a loopback load test of `sentibench serve` -> BENCHMARKS.md.

    python benchmarks/inference.py --train                       # fine-tune MiniLM-L6 first
    python benchmarks/inference.py --run runs/minilm_full-X --also runs/cnn-Y runs/nbsvm-Z
    python benchmarks/inference.py --run R --n 200 --load-requests 200 --no-write   # smoke run

MiniLM: N test reviews of the run's own test split (seeded, half per class), classified in
one process, one after the other, at the same thread count and the run's max_length, by

    transformers.pipeline("text-classification", batch_size=32, truncation=True, max_length=L)
    sentibench fp32   the run's model: texts sorted by length, batches padded to their longest
    sentibench int8   the same with torch dynamic int8 quantization of the Linear layers
    sentibench bf16   the same under torch.autocast("cpu", bfloat16) (fast where the CPU has
                      AVX512-BF16 or AMX; the table says whether this one does)
    sentibench ONNX   the same model exported to ONNX, run by ONNX Runtime

Each is warmed up on 32 reviews first. The target (issue 6): >= 2x the pipeline's reviews/s with
accuracy within 0.5 points of the fp32 model. `--train` fine-tunes minilm_full (cpu preset,
truncation head so that the pipeline sees the same tokens) on a seeded subset of --data.

The load test starts `sentibench serve` in a child process on 127.0.0.1 (a free port), sends
--load-requests single-review POST /predict requests, --concurrency at a time, and reports
latency percentiles, requests/s and errors. Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sections import write_section  # benchmarks/ is on sys.path when run

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_BATCH = 32
WARMUP = 32


def sample_test(path: Path, n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """n reviews of the run's own test split, half of each label, seeded."""
    import pandas as pd

    from sentibench.inference.export import scored_test_split
    from sentibench.runs import load_run

    test = scored_test_split(load_run(path))
    per_class = min(n // 2, int(test["label"].value_counts().min()))
    parts = [test[test["label"] == y].sample(per_class, random_state=seed) for y in (0, 1)]
    chosen = pd.concat(parts).sample(frac=1.0, random_state=seed)
    return chosen["text"].tolist(), chosen["label"].to_numpy()


def measure(name: str, predict: Any, texts: list[str], labels: np.ndarray) -> dict[str, Any]:
    """reviews/s and accuracy of predict(texts) -> 0/1 labels, after a warm-up."""
    predict(texts[:WARMUP])
    started = time.perf_counter()
    predicted = np.asarray(predict(texts))
    seconds = time.perf_counter() - started
    row = {
        "variant": name,
        "reviews_per_s": len(texts) / seconds,
        "seconds": seconds,
        "accuracy": float((predicted == labels).mean()),
        "labels": predicted,
    }
    print(f"  {name:48s} {row['reviews_per_s']:8.1f} reviews/s  acc {row['accuracy']:.4f}")
    return row


def pipeline_model(predictor: Any) -> Any:
    """A copy of the run's classifier as a transformers PreTrainedModel (LoRA merged)."""
    from transformers import PreTrainedModel

    model = predictor.export_module().model  # export's LogitsOf wraps the classifier
    if not isinstance(model, PreTrainedModel):  # e.g. the pooled_linear head, prompt methods
        sys.exit("--run: the pipeline needs a transformers classifier (head auto, full or LoRA).")
    return model


def minilm_rows(path: Path, n: int, seed: int, threads: int | None) -> tuple[list[dict], dict]:
    from transformers import pipeline

    from sentibench.inference.api import load_run
    from sentibench.inference.export import (
        bf16_predictor,
        int8_predictor,
        onnx_predictor,
        write_onnx,
    )
    from sentibench.predictor import labels_from_proba

    model = load_run(path, threads=threads)
    if model.record.config.get("family") != "transformer":
        sys.exit(f"--run {path} is not a transformer run.")
    predictor, config = model.predictor, model.predictor.config
    texts, labels = sample_test(path, n, seed)
    print(f"{model.name}: {len(texts)} test reviews, max_length {config.max_length}")

    classify = pipeline(
        "text-classification", model=pipeline_model(predictor), tokenizer=predictor.tokenizer,
        device=-1,
    )  # fmt: skip
    label2id = classify.model.config.label2id

    def with_pipeline(batch: list[str]) -> list[int]:
        out = classify(batch, batch_size=PIPELINE_BATCH, truncation=True,
                       max_length=config.max_length)  # fmt: skip
        return [int(label2id[o["label"]]) for o in out]

    rows = [measure(f"transformers.pipeline fp32, batch {PIPELINE_BATCH}", with_pipeline, texts,
                    labels)]  # fmt: skip
    rows.append(measure("sentibench fp32 (length-sorted, dynamic padding)", model.predict,
                        texts, labels))  # fmt: skip
    int8 = int8_predictor(predictor)
    rows.append(measure("sentibench int8 (dynamic quantization)",
                        lambda t: labels_from_proba(int8.predict_proba(t)), texts,
                        labels))  # fmt: skip
    bf16 = bf16_predictor(predictor)
    rows.append(measure("sentibench bf16 (autocast)",
                        lambda t: labels_from_proba(bf16.predict_proba(t)), texts,
                        labels))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # the session keeps the model in memory
        write_onnx(predictor, Path(tmp) / "model.onnx", texts[:8])
        session = onnx_predictor(predictor, Path(tmp) / "model.onnx", threads)
    rows.append(measure("sentibench ONNX Runtime fp32",
                        lambda t: labels_from_proba(session.predict_proba(t)), texts,
                        labels))  # fmt: skip
    base, fp32 = rows[0], rows[1]
    for row in rows:
        row["speedup"] = row["reviews_per_s"] / base["reviews_per_s"]
        row["delta_points"] = 100 * (row["accuracy"] - fp32["accuracy"])
        row["agreement"] = float((row["labels"] == fp32["labels"]).mean())
    info = {
        "run": model.name,
        "n": len(texts),
        "max_length": config.max_length,
        "truncation": config.truncation,
        "method": config.method,
    }
    return rows, info


def other_rows(paths: list[Path], n: int, seed: int, threads: int | None) -> list[dict]:
    from sentibench.inference.api import load_run
    from sentibench.inference.export import (
        bf16_predictor,
        int8_predictor,
        onnx_predictor,
        torch_predictor,
        write_onnx,
    )
    from sentibench.predictor import labels_from_proba

    rows = []
    for path in paths:
        model = load_run(path, threads=threads)
        texts, labels = sample_test(path, n, seed)
        print(f"{model.name} ({model.model}): {len(texts)} test reviews")
        variants = [("original", model.predict)]
        if model.record.config.get("family") in ("classic", "transformer"):
            pipe = torch_predictor(model.record, model.predictor)
            int8 = int8_predictor(pipe)
            variants.append(("int8", lambda t, p=int8: labels_from_proba(p.predict_proba(t))))
            bf16 = bf16_predictor(pipe)
            variants.append(("bf16", lambda t, p=bf16: labels_from_proba(p.predict_proba(t))))
            with tempfile.TemporaryDirectory() as tmp:  # the session keeps the model in memory
                write_onnx(pipe, Path(tmp) / "model.onnx", texts[:8])
                onnx = onnx_predictor(pipe, Path(tmp) / "model.onnx", threads)
            variants.append(
                ("ONNX Runtime", lambda t, p=onnx: labels_from_proba(p.predict_proba(t)))
            )
        for variant, predict in variants:
            row = measure(variant, predict, texts, labels)
            rows.append({**row, "run": model.name, "model": model.model, "n": len(texts)})
    return rows


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def hammer(url: str, texts: list[str], requests: int, concurrency: int) -> dict[str, Any]:
    """`requests` POST /predict calls, `concurrency` in flight; latencies in ms."""
    import httpx

    limit = asyncio.Semaphore(concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:

        async def one(i: int) -> None:
            async with limit:
                started = time.perf_counter()
                try:
                    response = await client.post("/predict", json={"text": texts[i % len(texts)]})
                    if response.status_code != 200:
                        errors.append(f"HTTP {response.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(type(exc).__name__)
                latencies.append(1000 * (time.perf_counter() - started))

        await asyncio.gather(*(one(i) for i in range(16)))  # warm-up, not counted
        latencies.clear()
        errors.clear()
        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        seconds = time.perf_counter() - started
    return {
        "requests": requests,
        "concurrency": concurrency,
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "requests_per_s": requests / seconds,
    }


def load_test(path: Path, backend: str, requests: int, concurrency: int, threads: int | None,
              seed: int) -> dict[str, Any]:  # fmt: skip
    texts, _ = sample_test(path, 200, seed)
    port = free_port()
    command = [sys.executable, "-m", "sentibench.cli", "serve", "--run", str(path),
               "--host", "127.0.0.1", "--port", str(port), "--backend", backend]  # fmt: skip
    if threads:
        command += ["--threads", str(threads)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        import httpx

        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while True:
            if server.poll() is not None:
                sys.exit(f"sentibench serve exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit("sentibench serve was not ready (GET /ready) within 300 s.")
            time.sleep(0.5)
        result = asyncio.run(hammer(url, texts, requests, concurrency))
    finally:
        server.terminate()
        server.wait(timeout=30)
    result.update(run=path.name, backend=backend)
    print(f"  load test: {result['requests']} requests, {result['concurrency']} concurrent, "
          f"{result['errors']} errors, p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f}"
          f" ms, {result['requests_per_s']:.1f} requests/s")  # fmt: skip
    return result


# The shape the inference rows were measured at (256 tokens, 2 epochs): the minilm_full cpu
# preset of then; the preset is now sized for the full split (128 tokens, one epoch).
MEASURED_SHAPE = ("max_length=256", "epochs=2", "batch_tokens=0")


def train_minilm(data: str, train_size: int, test_size: int, seed: int, runs: Path) -> Path:
    """Fine-tune minilm_full (cpu preset, head truncation, the architecture's own head so that
    transformers.pipeline can load the folder) on a seeded subset of `data`."""
    import pandas as pd

    from sentibench.data.dataset import load_official
    from sentibench.train.runner import run_training

    train, test, _, _ = load_official(data)
    folder = runs / f".inference-bench-data-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    for frame, size, split in ((train, train_size, "train"), (test, test_size, "test")):
        half = min(size // 2, int(frame["label"].value_counts().min()))
        parts = [frame[frame["label"] == y].sample(half, random_state=seed) for y in (0, 1)]
        pd.concat(parts).to_parquet(folder / f"{split}.parquet", index=False)
    out = runs / f"minilm_full-inference-bench-{time.strftime('%Y%m%d-%H%M%S')}"
    return run_training("minilm_full", data=str(folder), preset="cpu", seed=seed,
                        overrides=['truncation="head"', 'head="auto"', *MEASURED_SHAPE],
                        out=out)  # fmt: skip


def markdown(minilm: list[dict], info: dict, others: list[dict], load: dict | None,
             command: str, threads: int) -> str:  # fmt: skip
    from sentibench.provenance import machine
    from sentibench.runtime import native_cpu_bf16

    m = machine()
    lines = [
        "## Inference on CPU (issue 6)",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {m['cpu']} ({m['cores']} cores), "
        f"{threads} torch/ONNX Runtime threads, native bf16: {native_cpu_bf16() or 'no'}, "
        f"with `{command}`.",
        "",
    ]
    if minilm:
        fp32 = minilm[1]
        fast = [r for r in minilm[1:] if r["speedup"] >= 2 and abs(r["delta_points"]) <= 0.5]
        verdict = ", ".join(r["variant"] for r in fast) if fast else "no variant"
        lines += [
            f"MiniLM-L6 run `{info['run']}` (method {info['method']}, max_length "
            f"{info['max_length']}, truncation {info['truncation']}), {info['n']:,} of its test "
            "reviews, every variant in one process:",
            "",
            "| variant | reviews/s | x pipeline | accuracy | vs fp32 (points) | agrees with fp32 |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['variant']} | {r['reviews_per_s']:.1f} | {r['speedup']:.2f} | "
            f"{r['accuracy']:.4f} | {r['delta_points']:+.2f} | {r['agreement']:.2%} |"
            for r in minilm
        ]
        lines += ["", f"Target >= 2x the pipeline within 0.5 points of fp32: met by {verdict}.",
                  f"(fp32 reference: {fp32['reviews_per_s']:.1f} reviews/s.)", ""]  # fmt: skip
    if others:
        lines += ["| run | model | variant | reviews | reviews/s | accuracy |",
                  "|---|---|---|---|---|---|"]  # fmt: skip
        lines += [
            f"| {r['run']} | {r['model']} | {r['variant']} | {r['n']:,} | "
            f"{r['reviews_per_s']:.1f} | {r['accuracy']:.4f} |"
            for r in others
        ]
        lines.append("")
    if load:
        lines += [
            f"Load test of `sentibench serve` (run `{load['run']}`, backend {load['backend']}) "
            "on 127.0.0.1, single-review POST /predict:",
            "",
            "| requests | concurrent | errors | p50 ms | p99 ms | requests/s |",
            "|---|---|---|---|---|---|",
            f"| {load['requests']:,} | {load['concurrency']} | {load['errors']} | "
            f"{load['p50_ms']:.1f} | {load['p99_ms']:.1f} | {load['requests_per_s']:.1f} |",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="a fine-tuned MiniLM-L6 run directory")
    parser.add_argument("--train", action="store_true", help="fine-tune one first (see above)")
    parser.add_argument("--data", default="auto", help="--train data: imdb | sample | folder")
    parser.add_argument("--train-size", type=int, default=2000)
    parser.add_argument("--also", type=Path, nargs="*", default=[], help="other runs to time")
    parser.add_argument("--n", type=int, default=2000, help="test reviews per measurement")
    parser.add_argument("--threads", type=int, default=None, help="default: torch's default")
    parser.add_argument("--load-requests", type=int, default=2000, help="0: no load test")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--load-run", type=Path, help="run to serve (default: --run)")
    parser.add_argument("--load-backend", default="original", help="original | onnx | int8")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--section", default="inference", help="BENCHMARKS.md section to write")
    args = parser.parse_args()

    import torch

    from sentibench.runtime import set_threads

    set_threads(args.threads)  # torch's and the BLAS pools', as load_run and serve set them
    run = args.run
    if args.train:
        run = train_minilm(args.data, args.train_size, args.n, args.seed, args.runs)
        print(f"trained {run}")
    minilm, info = minilm_rows(run, args.n, args.seed, args.threads) if run else ([], {})
    others = other_rows(args.also, args.n, args.seed, args.threads)
    served = args.load_run or run or (args.also[0] if args.also else None)
    load = None
    if args.load_requests and served is not None:
        load = load_test(served, args.load_backend, args.load_requests, args.concurrency,
                         args.threads, args.seed)  # fmt: skip
    command = " ".join(["python benchmarks/inference.py", *sys.argv[1:]])
    text = markdown(minilm, info, others, load, command, torch.get_num_threads())
    print(text)
    if not args.no_write:
        write_section(args.section, text, args.out)
    if load and load["errors"]:
        sys.exit(f"load test: {load['errors']} errors ({', '.join(load['error_kinds'])}).")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
