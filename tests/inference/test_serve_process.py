"""`sentibench serve` as a real process on a free loopback port (an NB-SVM run): SIGTERM stops
accepting, answers every queued request and exits 0. A worker process builds its app from the
parent's settings (checked in process); --workers 2 for real, sharing the port and the metrics,
takes 10-60 s on 2 busy cores (two fresh interpreters import torch and scikit-learn), so it runs
only with SENTIBENCH_SERVE_WORKERS_TEST=1. Bad flags are one sentence before anything loads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, uvicorn)")
httpx = pytest.importorskip("httpx", reason="the service needs the serve extra (httpx)")
from fastapi.testclient import TestClient  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from sentibench.cli import app  # noqa: E402
from sentibench.errors import ConfigError  # noqa: E402
from sentibench.inference.batching import BatchPolicy  # noqa: E402
from sentibench.inference.server import SETTINGS_ENV, ServeSettings, app_from_environment  # noqa: E402
from sentibench.inference.service import Limits  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(run: Path, *flags: str) -> tuple[subprocess.Popen, str]:
    """`sentibench serve --run RUN FLAGS` on a free port, once GET /ready answers 200."""
    port = free_port()
    # No --threads: it would import torch (seconds) to set its threads; OMP_NUM_THREADS is 1.
    command = [sys.executable, "-m", "sentibench.cli", "serve", "--run", str(run),
               "--port", str(port), *flags]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert server.poll() is None, server.communicate()[1].decode()[-2000:]
        try:
            if httpx.get(url + "/ready", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "sentibench serve was not ready within 60 s"
        time.sleep(0.1)


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples `name` with these labels in one scrape of /metrics."""
    families = text_string_to_metric_families(httpx.get(url + "/metrics", timeout=5).text)
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    )


def predict(url: str, number: int) -> httpx.Response:
    body = {"text": f"a great film, number {number}", "id": f"r{number}"}
    return httpx.post(url + "/predict", json=body, timeout=30)


def test_sigterm_drains_the_queue_and_exits_0(family_run):
    # Batches wait up to 1.5 s for company that never comes: the requests are queued at SIGTERM.
    server, url = start(family_run("nbsvm"), "--batch-size", "64", "--max-wait-ms", "1500")
    try:
        with ThreadPoolExecutor(6) as pool:
            queued = [pool.submit(predict, url, i) for i in range(6)]
            deadline = time.monotonic() + 10
            while metric(url, "sentibench_queue_depth") < 6:
                assert time.monotonic() < deadline, "the requests never queued"
                time.sleep(0.05)
            server.send_signal(signal.SIGTERM)
            while True:  # it stops accepting within uvicorn's 0.1 s tick, long before the batch
                try:
                    httpx.get(url + "/health", timeout=2)
                except httpx.ConnectError:
                    break
                assert time.monotonic() < deadline, "still accepting after SIGTERM"
                time.sleep(0.02)
            assert not any(f.done() for f in queued)  # refused new work while these waited
            answers = [f.result() for f in queued]
        assert [a.status_code for a in answers] == [200] * 6
        assert [a.json()["id"] for a in answers] == [f"r{i}" for i in range(6)]
        assert server.wait(timeout=30) == 0, server.communicate()[1].decode()[-2000:]
    finally:
        server.kill()
        server.wait()


def test_a_worker_builds_its_app_from_the_parents_settings(family_run, monkeypatch):
    limits, policy = Limits(max_texts=3), BatchPolicy(batch_size=4, max_wait_ms=1, queue_size=9)
    settings = ServeSettings(str(family_run("nbsvm")), limits=limits, policy=policy)
    monkeypatch.setenv(SETTINGS_ENV, settings.to_json())
    with TestClient(app_from_environment()) as client:
        deadline = time.monotonic() + 30
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the worker's model never loaded"
            time.sleep(0.02)
        health = client.get("/health").json()
        assert health["model"] == "nbsvm" and health["limits"]["max_texts"] == 3
        assert health["batching"] == {"batch_size": 4, "max_wait_ms": 1, "queue_size": 9}
        assert client.post("/predict", json={"texts": ["great"] * 4}).status_code == 413


@pytest.mark.skipif(
    os.environ.get("SENTIBENCH_SERVE_WORKERS_TEST") != "1",
    reason="10-60 s: set SENTIBENCH_SERVE_WORKERS_TEST=1 to serve with --workers 2 for real",
)
def test_two_workers_share_the_port_and_the_metrics(family_run):
    server, url = start(family_run("nbsvm"), "--workers", "2")
    try:
        answered = 0
        for i in range(12):  # a new connection each: the kernel spreads them over the workers
            for _ in range(100):  # the other worker may still be loading: it answers 503
                response = predict(url, i)
                if response.status_code == 200:
                    break
                time.sleep(0.05)
            answered += response.status_code == 200 and response.json()["id"] == f"r{i}"
        assert answered == 12
        count = metric(url, "sentibench_requests_total", endpoint="/predict", status="200")
        assert count == 12  # whichever worker answered the scrape, it counts both
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0, server.communicate()[1].decode()[-2000:]
    finally:
        server.kill()
        server.wait()


@pytest.mark.parametrize(
    ("flag", "value", "fragment"),
    [("--batch-size", "0", "batch_size must be >= 1"), ("--queue-size", "-3", "queue_size"),
     ("--max-wait-ms", "-1", "max_wait_ms must be >= 0"), ("--workers", "0", "workers"),
     ("--max-texts", "0", "max_texts"), ("--max-batch", "0", "max_texts"),
     ("--request-timeout", "0", "timeout must be > 0"), ("--timeout", "-1", "timeout must be"),
     ("--threads", "0", "threads")],
)  # fmt: skip
def test_bad_serve_flags_are_one_sentence(flag, value, fragment, tmp_path):
    # A run that does not exist: the flags are refused before the run is even looked at.
    result = CliRunner().invoke(app, ["serve", "--run", str(tmp_path / "none"), flag, value])
    assert isinstance(result.exception, ConfigError), result.output
    assert fragment in str(result.exception) and "\n" not in str(result.exception)
