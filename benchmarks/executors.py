"""The quick suite through each executor: local processes and a one-node Slurm cluster, one run
at a time vs two at once -> BENCHMARKS.md (issue 14).

    python benchmarks/executors.py              # starts and stops scripts/slurm-local.sh (root)
    python benchmarks/executors.py --no-write

Four timed `sentibench bench --suite quick` runs, each into an empty runs folder, with one
SENTIBENCH_HOME warmed first by an untimed cnn quick run (so no run pays the vector cache):
`--executor local|slurm`, `--max-parallel 1 --cpus-per-run $(nproc)` and `--max-parallel 2
--cpus-per-run 1`. Reported: wall time of each, the 1-vs-2 ratio per executor, and the overhead
Slurm adds per run ((slurm - local) / runs, at the same parallelism). The leaderboards are
compared (model, seeds, accuracy) between the executors at the same threads per run: the
executor must not change a result.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import command_line, write_section  # benchmarks/ is on sys.path when run

from sentibench.provenance import machine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "slurm-local.sh"
COMPARED = ("model", "seeds", "accuracy")


def bench(runs: Path, env: dict[str, str], executor: str, parallel: int, cpus: int) -> float:
    command = [sys.executable, "-m", "sentibench.cli", "bench", "--suite", "quick", "--runs",
               str(runs), "--executor", executor, "--max-parallel", str(parallel),
               "--cpus-per-run", str(cpus)]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def leaderboard(runs: Path) -> list[tuple[str, ...]]:
    with open(runs / "quick" / "leaderboard.csv", encoding="utf-8") as handle:
        return sorted(tuple(row[k] for k in COMPARED) for row in csv.DictReader(handle))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="sentibench-executors-") as tmp:
        root = Path(tmp)
        env = dict(os.environ, SENTIBENCH_HOME=str(root / "home"))
        started_cluster = "SLURM_CONF" not in os.environ
        if started_cluster:
            out = subprocess.run([str(SCRIPT), "start", str(root / "slurm")], check=True,
                                 capture_output=True, text=True).stdout  # fmt: skip
            env["SLURM_CONF"] = out.strip().split("=", 1)[1]
        try:
            subprocess.run(
                [sys.executable, "-m", "sentibench.cli", "train", "cnn", "--data", "sample",
                 "--preset", "quick", "--out", str(root / "warm")],
                env=env, check=True, stdout=subprocess.DEVNULL,
            )  # fmt: skip
            times, boards = {}, {}
            for executor in ("local", "slurm"):
                for parallel, cpus in ((1, cores), (2, 1)):
                    runs = root / f"{executor}-{parallel}"
                    times[executor, parallel] = bench(runs, env, executor, parallel, cpus)
                    boards[executor, parallel] = leaderboard(runs)
                    print(f"{executor} x{parallel}: {times[executor, parallel]:.1f} s", flush=True)
        finally:
            if started_cluster:
                subprocess.run([str(SCRIPT), "stop", str(root / "slurm")], check=False)
    n_runs = len(next(iter(boards.values())))
    # the same threads per run must give the same results; 2 threads vs 1 may differ in float
    same = {k: boards["slurm", k] == boards["local", k] for k in (1, 2)}
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    info = machine()
    lines = [
        "## Executors: the quick suite, local processes vs a one-node Slurm cluster",
        "",
        f"- Command: `{command_line('executors.py')}` ({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})",  # noqa: E501
        f"- Machine: {cores} cores ({info['cpu']}); load average 1/5/15 min at the end, its own "
        f"runs included: {load}; Slurm 22.05 from "
        "scripts/slurm-local.sh on the same machine.",
        f"- {n_runs} runs; leaderboard (model, seeds, accuracy) of slurm equals local's at the "
        f"same --cpus-per-run: {'yes' if same[1] else 'NO'} ({cores} threads), "
        f"{'yes' if same[2] else 'NO'} (1 thread).",
        "",
        "| executor | --max-parallel 1 --cpus-per-run "
        f"{cores} | --max-parallel 2 --cpus-per-run 1 | ratio 1/2 |",
        "|---|---|---|---|",
    ]
    for executor in ("local", "slurm"):
        one, two = times[executor, 1], times[executor, 2]
        lines.append(f"| {executor} | {one:.1f} s | {two:.1f} s | {one / two:.2f} |")
    overhead = [(times["slurm", k] - times["local", k]) / n_runs for k in (1, 2)]
    lines += [
        "",
        f"Slurm's overhead per run: {overhead[0]:+.1f} s one at a time, {overhead[1]:+.1f} s two "
        "at a time (wall time difference / runs; scheduling, the job's Python start, squeue "
        "polling). These figures move by a few seconds from one benchmark run to the next.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("executors", text)


if __name__ == "__main__":
    main()
