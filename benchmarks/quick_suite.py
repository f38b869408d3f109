"""The quick suite on a fresh home: its wall time, and kill -9 at a random moment + rerun
giving the same report (issue 5 targets).

    python benchmarks/quick_suite.py            # two suites, one of them killed once, ~2x its time
    python benchmarks/quick_suite.py --seed 3   # another random kill moment

Run A: `sentibench bench --suite quick` with an empty SENTIBENCH_HOME (nothing cached: word
vectors are looked up again), timed. Run B: the same command into another folder, killed with
SIGKILL (the whole process group) at a random moment between 10% and 90% of A's wall time, then
rerun to the end. The check: B's leaderboard.csv has the same models, statuses and accuracies as
A's (finished runs are skipped, the killed one resumed or redone). Target: A <= 10 minutes.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import command_line, write_section  # benchmarks/ is on sys.path when run

from sentibench.provenance import machine

COMPARED = ("label", "model", "seeds", "accuracy")


def bench(runs: Path, home: Path) -> subprocess.Popen:
    env = dict(os.environ, SENTIBENCH_HOME=str(home))
    command = [sys.executable, "-m", "sentibench", "bench", "--suite", "quick", "--runs", str(runs)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip


def leaderboard(runs: Path) -> list[tuple[str, ...]]:
    with open(runs / "quick" / "report" / "leaderboard.csv", encoding="utf-8") as handle:
        return [tuple(row[k] for k in COMPARED) for row in csv.DictReader(handle)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="picks the kill moment")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        code_a = bench(root / "a", root / "home-a").wait()
        wall_a = time.perf_counter() - started

        kill_at = random.Random(args.seed).uniform(0.1, 0.9) * wall_a
        process = bench(root / "b", root / "home-b")
        time.sleep(kill_at)
        killed = process.poll() is None
        if killed:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        started = time.perf_counter()
        code_b = bench(root / "b", root / "home-b").wait()
        rerun = time.perf_counter() - started
        same = code_a == code_b == 0 and leaderboard(root / "a") == leaderboard(root / "b")
        rows = leaderboard(root / "a") if code_a == 0 else []
    info = machine()
    lines = [
        "## Quick suite: fresh-home wall time, kill -9 and rerun",
        "",
        f"- Command: `{command_line('quick_suite.py')}` "
        f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC)",
        f"- Machine: {info['cores']} cores ({info['cpu']}); OMP_NUM_THREADS "
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; load average (1/5/15 min) at the end: "
        + " / ".join(f"{x:.2f}" for x in os.getloadavg()),
        "",
        f"- Run A (uninterrupted, empty SENTIBENCH_HOME): {wall_a / 60:.1f} min, exit {code_a}; "
        f"target <= 10 min: {'met' if code_a == 0 and wall_a <= 600 else 'not met'}.",
        f"- Run B: killed (SIGKILL to the process group) after {kill_at:.0f} s"
        + ("" if killed else " (it had already finished)")
        + f", rerun finished in {rerun / 60:.1f} min, exit {code_b}.",
        f"- B's leaderboard equals A's ({', '.join(COMPARED)} of {len(rows)} rows): "
        f"{'yes' if same else 'NO'}.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("quick-suite", text)
    sys.exit(0 if same else 1)


if __name__ == "__main__":
    main()
