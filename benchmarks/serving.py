"""Serving under load (issue 20): `sentibench serve` on loopback with concurrent clients, dynamic
batching on and off, and an overload -> JSON, a markdown table, BENCHMARKS.md section "serving".

    python benchmarks/serving.py --minilm-run RUN --nbsvm-run RUN --threads 2
    python benchmarks/serving.py --minilm-run RUN --nbsvm-run RUN --threads 1 \\
        --requests 60 --seconds 10 --no-write --json /tmp/serving.json            # smoke run

Scenarios, each a fresh server in a child process on 127.0.0.1 (a free port), in this order:

    minilm one-at-a-time  16 clients  --batch-size 1 --max-wait-ms 0 (one review per forward
                                      pass, the service before issue 20)
    minilm batched        16 clients  the service defaults (dynamic batching)
    nbsvm one-at-a-time   16 clients  as above, for NB-SVM
    nbsvm batched         16 clients  the defaults: batching must not cost the fast models
    overload (MiniLM)     64 clients  --queue-size 32
    --workers N adds "nbsvm N workers" and "minilm N workers" (16 clients, batching on).

Every client sends one review per request (of --texts reviews from the run's own test split)
and the next one when the answer arrives; after a 503 it waits Retry-After (at most 1 s). A
scenario ends after --requests answers or --seconds, whichever comes first. Before the load,
the same server classifies each review alone (the reference; also the warm-up). Each request
carries its own id: an answer that does not echo it, or whose probability differs from the
reference for its review by more than --tolerance, is a mismatch, and any mismatch fails the
script. Server memory is the RSS of the server's processes, sampled every 0.2 s. "idle p50"
and "after p50" are 10 sequential requests before and after the load: after an overload the
service should answer within its normal latency.

Targets: minilm batched >= 3x the requests/s of one-at-a-time with p99 <= 2 s; nbsvm >= 850
requests/s with p99 <= 50 ms; overload: only 200s and 503s, memory bounded, after p50 within
2x idle p50 (+ 50 ms); zero mismatches anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from inference import free_port, sample_test  # benchmarks/ is on sys.path when run
from sections import command_line, write_section

ROOT = Path(__file__).resolve().parent.parent
ONE_AT_A_TIME = ["--batch-size", "1", "--max-wait-ms", "0"]
MAX_BACKOFF_S = 1.0


@dataclass(frozen=True)
class Scenario:
    name: str
    run: Path
    clients: int
    flags: list[str] = field(default_factory=list)


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    chosen = []
    if args.minilm_run:
        chosen += [
            Scenario("minilm one-at-a-time", args.minilm_run, 16, ONE_AT_A_TIME),
            Scenario("minilm batched", args.minilm_run, 16),
        ]
    if args.nbsvm_run:
        chosen += [
            Scenario("nbsvm one-at-a-time", args.nbsvm_run, 16, ONE_AT_A_TIME),
            Scenario("nbsvm batched", args.nbsvm_run, 16),
        ]
    overload = args.overload_run or args.minilm_run or args.nbsvm_run
    if overload:
        chosen.append(Scenario("overload", overload, 64, ["--queue-size", "32"]))
    if args.workers > 1:
        for label, run in (("nbsvm", args.nbsvm_run), ("minilm", args.minilm_run)):
            if run:
                flags = ["--workers", str(args.workers)]
                chosen.append(Scenario(f"{label} {args.workers} workers", run, 16, flags))
    return chosen


# -- the server ------------------------------------------------------------------------------


class Server:
    """`sentibench serve` in a child process; its log goes to a file (a full pipe would block
    it); RSS of it and its worker processes sampled in a thread."""

    def __init__(self, run: Path, flags: list[str], threads: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        command = [sys.executable, "-m", "sentibench.cli", "serve", "--run", str(run),
                   "--port", str(self.port), *flags]  # fmt: skip
        if threads and "--workers" not in flags:
            command += ["--threads", str(threads)]
        self.command = command
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log)
        self.rss: list[float] = []

    def wait_ready(self, timeout_s: float = 600) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                self.log.seek(0)
                sys.exit(f"sentibench serve exited: {self.log.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"sentibench serve was not ready within {timeout_s:.0f} s.")
            time.sleep(0.2)

    def memory_mb(self) -> float:
        import psutil

        try:
            process = psutil.Process(self.process.pid)
            family = [process, *process.children(recursive=True)]
            return sum(p.memory_info().rss for p in family) / 2**20
        except psutil.Error:
            return float("nan")

    @contextmanager
    def sampling_memory(self) -> Iterator[None]:
        """Append the RSS to self.rss every 0.2 s while the block runs."""
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.2):
                self.rss.append(self.memory_mb())

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def stop(self) -> int:
        self.process.terminate()  # SIGTERM: drains, exits 0
        try:
            return self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
        finally:
            self.log.close()


# -- the clients -----------------------------------------------------------------------------


async def reference(url: str, texts: list[str]) -> tuple[list[float], list[float]]:
    """P(positive) of each text classified alone, and the latencies (ms) of those requests."""
    import httpx

    probabilities, latencies = [], []
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        for i, text in enumerate(texts):
            started = time.perf_counter()
            response = await http.post("/predict", json={"text": text, "id": f"ref-{i}"})
            latencies.append(1000 * (time.perf_counter() - started))
            response.raise_for_status()
            assert response.json()["id"] == f"ref-{i}", response.text
            probabilities.append(response.json()["prob_positive"])
    return probabilities, latencies


async def hammer(url: str, texts: list[str], expected: list[float], clients: int,
                 requests: int, seconds: float, tolerance: float) -> dict[str, Any]:  # fmt: skip
    """`clients` concurrent clients until `requests` answers or `seconds` have passed."""
    import httpx

    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    mismatches: list[str] = []
    numbers = itertools.count()
    stop_at = time.monotonic() + seconds

    async def client(c: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:  # one connection each
            while time.monotonic() < stop_at and (n := next(numbers)) < requests:
                i = n % len(texts)
                request_id = f"c{c}-n{n}"
                started = time.perf_counter()
                try:
                    response = await http.post(
                        "/predict", json={"text": texts[i], "id": request_id}
                    )
                except httpx.HTTPError as exc:
                    statuses[type(exc).__name__] += 1
                    continue
                statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    latencies.append(1000 * (time.perf_counter() - started))
                    body = response.json()
                    if body.get("id") != request_id:
                        mismatches.append(f"{request_id}: answered as {body.get('id')!r}")
                    elif abs(body["prob_positive"] - expected[i]) > tolerance:
                        mismatches.append(f"{request_id}: {body['prob_positive']} vs {expected[i]}")
                elif response.status_code == 503:
                    retry = float(response.headers.get("retry-after", MAX_BACKOFF_S))
                    await asyncio.sleep(min(retry, MAX_BACKOFF_S))

    started = time.perf_counter()
    await asyncio.gather(*(client(c) for c in range(clients)))
    elapsed = time.perf_counter() - started
    ok = statuses.get("200", 0)
    return {
        "answered": sum(statuses.values()),
        "ok": ok,
        "status_503": statuses.get("503", 0),
        "other_errors": {k: v for k, v in statuses.items() if k not in ("200", "503")},
        "mismatches": len(mismatches),
        "mismatch_examples": mismatches[:5],
        "seconds": elapsed,
        "requests_per_s": ok / elapsed,
        "p50_ms": float(np.percentile(latencies, 50)) if latencies else float("nan"),
        "p99_ms": float(np.percentile(latencies, 99)) if latencies else float("nan"),
    }


def measure(scenario: Scenario, texts: list[str], args: argparse.Namespace) -> dict[str, Any]:
    server = Server(scenario.run, scenario.flags, args.threads)
    try:
        server.wait_ready()
        expected, _ = asyncio.run(reference(server.url, texts))
        _, idle = asyncio.run(reference(server.url, texts[:10]))
        rss_start = server.memory_mb()
        with server.sampling_memory():
            result = asyncio.run(hammer(server.url, texts, expected, scenario.clients,
                                        args.requests, args.seconds, args.tolerance))  # fmt: skip
        _, after = asyncio.run(reference(server.url, texts[:10]))
    finally:
        exit_code = server.stop()
    result.update(
        scenario=scenario.name, run=scenario.run.name, clients=scenario.clients,
        flags=" ".join(scenario.flags) or "defaults", exit_code=exit_code,
        idle_p50_ms=statistics.median(idle), after_p50_ms=statistics.median(after),
        rss_start_mb=rss_start, rss_peak_mb=max(server.rss, default=rss_start),
        rss_end_mb=server.rss[-1] if server.rss else rss_start,
    )  # fmt: skip
    print(f"  {scenario.name}: {result['ok']} ok, {result['status_503']} x 503, "
          f"{result['requests_per_s']:.1f} requests/s, p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, {result['mismatches']} mismatches")  # fmt: skip
    return result


# -- the report ------------------------------------------------------------------------------


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """One line per target of issue 20 that these rows can judge: met or not, and why."""
    by = {row["scenario"]: row for row in rows}
    lines = []
    serial, batched = by.get("minilm one-at-a-time"), by.get("minilm batched")
    if serial and batched:
        ratio = batched["requests_per_s"] / max(serial["requests_per_s"], 1e-9)
        met = ratio >= 3 and batched["p99_ms"] <= 2000
        lines.append(f"MiniLM batched / one-at-a-time: {ratio:.2f}x requests/s, p99 "
                     f"{batched['p99_ms']:.0f} ms (target >= 3x, <= 2,000 ms): "
                     f"{'met' if met else 'not met'}")  # fmt: skip
    if nbsvm := by.get("nbsvm batched"):
        met = nbsvm["requests_per_s"] >= 850 and nbsvm["p99_ms"] <= 50
        serial = by.get("nbsvm one-at-a-time")
        beside = f", one-at-a-time {serial['requests_per_s']:.0f}" if serial else ""
        lines.append(f"NB-SVM batched: {nbsvm['requests_per_s']:.0f} requests/s{beside}, p99 "
                     f"{nbsvm['p99_ms']:.1f} ms (target >= 850, <= 50 ms): "
                     f"{'met' if met else 'not met'}")  # fmt: skip
    if overload := by.get("overload"):
        clean = not overload["other_errors"]
        recovered = overload["after_p50_ms"] <= 2 * overload["idle_p50_ms"] + 50
        lines.append(f"Overload: {overload['ok']} x 200, {overload['status_503']} x 503, other "
                     f"{overload['other_errors'] or 'none'}; RSS {overload['rss_start_mb']:.0f} -> "
                     f"peak {overload['rss_peak_mb']:.0f} MiB; p50 idle "
                     f"{overload['idle_p50_ms']:.0f} ms, after {overload['after_p50_ms']:.0f} ms: "
                     f"{'met' if clean and recovered else 'not met'}")  # fmt: skip
    mismatches = sum(row["mismatches"] for row in rows)
    lines.append(f"Answers checked against their ids and references: {mismatches} mismatches "
                 f"(target 0): {'met' if mismatches == 0 else 'not met'}")  # fmt: skip
    return lines


def markdown(rows: list[dict[str, Any]], args: argparse.Namespace) -> str:
    from sentibench.provenance import machine

    info = machine()
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "## Serving under load (issue 20)",
        "",
        f"- Command: `{command_line('serving.py')}` ({when})",
        f"- Machine: {info['cores']} cores ({info['cpu']}); load average (1/5/15 min) at the "
        f"end: {load}",
        f"- Loopback, single-review POST /predict; each scenario ends after {args.requests:,} "
        f"answers or {args.seconds:g} s; server threads: {args.threads or 'default'}",
        "",
        "| scenario | run | clients | flags | 200 | 503 | other | requests/s | p50 ms | p99 ms "
        "| RSS start / peak MiB | idle / after p50 ms | mismatches |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        other = sum(r["other_errors"].values())
        lines.append(
            f"| {r['scenario']} | {r['run']} | {r['clients']} | {r['flags']} | {r['ok']:,} | "
            f"{r['status_503']:,} | {other} | {r['requests_per_s']:.1f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['rss_start_mb']:.0f} / {r['rss_peak_mb']:.0f} | "
            f"{r['idle_p50_ms']:.1f} / {r['after_p50_ms']:.1f} | {r['mismatches']} |"
        )
    return "\n".join([*lines, "", *(f"- {line}" for line in targets(rows))])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm-run", type=Path, help="a complete MiniLM run")
    parser.add_argument("--nbsvm-run", type=Path, help="a complete nbsvm run")
    parser.add_argument("--overload-run", type=Path, help="default: the MiniLM run")
    parser.add_argument("--threads", type=int, help="server CPU threads (default: all cores)")
    parser.add_argument("--workers", type=int, default=1, help="> 1 adds the workers scenarios")
    parser.add_argument("--requests", type=int, default=3000, help="answers per scenario, at most")
    parser.add_argument("--seconds", type=float, default=90, help="seconds per scenario, at most")
    parser.add_argument("--texts", type=int, default=64, help="distinct reviews sent")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="|P - reference| allowed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks/records/serving.json")
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--no-write", action="store_true", help="JSON and print only")
    args = parser.parse_args()
    chosen = scenarios(args)
    if not chosen:
        parser.error("give --minilm-run and/or --nbsvm-run")
    rows = []
    for scenario in chosen:
        texts, _ = sample_test(scenario.run, args.texts, args.seed)
        rows.append(measure(scenario, texts, args))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"command": command_line("serving.py"), "rows": rows},
                                    indent=2) + "\n")  # fmt: skip
    text = markdown(rows, args)
    print(text)
    if not args.no_write:
        write_section("serving", text, args.out)
    failures = [r["scenario"] for r in rows if r["mismatches"] or r["exit_code"] != 0]
    if failures:
        sys.exit(f"mismatched answers or an unclean exit in: {', '.join(failures)}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
