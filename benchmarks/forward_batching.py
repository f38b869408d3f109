"""What batching can gain at most when the model is the bottleneck: a run's predict_proba cost
per review at batch 1, 4 and 16 over the same sample reviews (issue 20's MiniLM explanation).

    python benchmarks/forward_batching.py RUN [--threads 2] [--reviews 48]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import sentibench
from sentibench.runtime import set_threads

SAMPLE_TEST = Path(__file__).resolve().parents[1] / "src/sentibench/data/sample/test.parquet"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reviews", type=int, default=48)
    args = parser.parse_args()
    set_threads(args.threads)
    model = sentibench.load_run(args.run)
    texts = pd.read_parquet(SAMPLE_TEST)["text"].tolist()[: args.reviews]
    model.predict_proba(texts[:4])  # warm-up: first-call allocations are not the model's cost
    for size in (1, 4, 16):
        start = time.perf_counter()
        for i in range(0, len(texts), size):
            model.predict_proba(texts[i : i + size])
        seconds = time.perf_counter() - start
        print(f"threads {args.threads}, batch {size:2d}: {1000 * seconds / len(texts):6.1f} ms "
              f"per review, {len(texts) / seconds:5.1f} reviews/s")  # fmt: skip


if __name__ == "__main__":
    main()
