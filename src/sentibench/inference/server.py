"""Running the service (service.py) with uvicorn: one process or N workers, and shutdown.

serve() checks the run's record (cheap) before anything listens, then
- workers == 1: uvicorn serves the app in this process; the model loads on the model thread
  while /health already answers and /ready says 503;
- workers > 1: uvicorn spawns N processes sharing the socket; each builds the app from the
  settings this process left in its environment (`app_from_environment`, an import string, as
  uvicorn's workers need) and loads its own model with threads = cores // N unless --threads
  says otherwise. prometheus-client's multiprocess mode gets a fresh folder, so a scrape of
  /metrics counts every worker.

SIGTERM (or Ctrl-C): uvicorn stops accepting, waits for the open requests (every queued one is
an open request), then each app's batcher drains and stops, and serve() returns: exit 0. A
model that fails to load stops the server; its error is the command's one sentence.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

from fastapi import FastAPI

from sentibench.errors import ConfigError, SentibenchError
from sentibench.inference.api import RunModel, load_run
from sentibench.inference.batching import BatchPolicy
from sentibench.inference.service import Limits, create_app
from sentibench.inference.service_metrics import MULTIPROC_ENV
from sentibench.runs import load_run as load_record
from sentibench.runs import refuse_remote_code

LOOPBACK = ("127.0.0.1", "localhost", "::1")
SETTINGS_ENV = "SENTIBENCH_SERVE_SETTINGS"  # JSON of ServeSettings, for the worker processes
LOAD_ERROR_FILE = "load-error.txt"  # a worker that cannot load the model says why here


@dataclass(frozen=True)
class ServeSettings:
    run: str
    backend: str = "original"
    threads: int | None = None
    trust_remote_code: bool = False
    limits: Limits = field(default_factory=Limits)
    policy: BatchPolicy = field(default_factory=BatchPolicy)

    def loader(self) -> Callable[[], RunModel]:
        return partial(load_run, self.run, backend=self.backend, threads=self.threads,
                       trust_remote_code=self.trust_remote_code)  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        values = json.loads(text)
        limits, policy = Limits(**values.pop("limits")), BatchPolicy(**values.pop("policy"))
        return cls(**values, limits=limits, policy=policy)


def available_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def check_run(run: Path, trust_remote_code: bool) -> None:
    """The refusals loading would make that cost nothing, made before anything listens: a wrong
    --run is one sentence, not a server that never becomes ready."""
    record = load_record(run)
    if record.status != "complete":
        raise SentibenchError(f"Run {run} is {record.status}, not complete; nothing to serve.")
    refuse_remote_code(record, trust_remote_code)


def serve(
    run: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "original",
    threads: int | None = None,
    limits: Limits | None = None,
    policy: BatchPolicy | None = None,
    workers: int = 1,
    trust_remote_code: bool = False,
) -> None:
    """Serve the run until SIGTERM or Ctrl-C."""
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}.")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads must be >= 1, got {threads}.")
    check_run(run, trust_remote_code)
    if threads is None and workers > 1:
        threads = max(1, available_cores() // workers)  # the workers share the cores
    settings = ServeSettings(str(run), backend, threads, trust_remote_code,
                             limits or Limits(), policy or BatchPolicy())  # fmt: skip
    if host not in LOOPBACK:
        print(f"note: serving on {host}: the service has no authentication.", file=sys.stderr)
    # uvicorn re-raises the SIGTERM it handled once it has shut down; ignoring that second one
    # makes a drained shutdown exit 0 instead of dying by the signal.
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        if workers == 1:
            _serve_here(settings, host, port)
        else:
            _serve_workers(settings, host, port, workers)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _serve_here(settings: ServeSettings, host: str, port: int) -> None:
    import uvicorn

    failures: list[Exception] = []
    server: uvicorn.Server | None = None

    def stop(exc: Exception) -> None:  # on the model thread
        failures.append(exc)
        if server is not None:
            server.should_exit = True

    app = create_app(settings.loader(), settings.limits, settings.policy, on_load_error=stop)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    server.run()
    if failures:
        raise failures[0]


def _serve_workers(settings: ServeSettings, host: str, port: int, workers: int) -> None:
    import uvicorn

    with tempfile.TemporaryDirectory(prefix="sentibench-serve-") as state:
        # Read by the spawned workers at import, before prometheus-client picks its mode.
        os.environ[SETTINGS_ENV] = settings.to_json()
        os.environ.setdefault(MULTIPROC_ENV, state)
        uvicorn.run(
            f"{__name__}:app_from_environment", factory=True, host=host, port=port,
            workers=workers, log_level="info",
        )  # fmt: skip
        failure = Path(os.environ[MULTIPROC_ENV]) / LOAD_ERROR_FILE
        if failure.exists():
            raise SentibenchError(failure.read_text(encoding="utf-8"))


def app_from_environment() -> FastAPI:
    """The app of one worker process (uvicorn's factory), from the parent's settings."""
    settings = ServeSettings.from_json(os.environ[SETTINGS_ENV])

    def stop_all(exc: Exception) -> None:  # on the model thread of this worker
        message = str(exc) if isinstance(exc, SentibenchError) else f"{type(exc).__name__}: {exc}"
        (Path(os.environ[MULTIPROC_ENV]) / LOAD_ERROR_FILE).write_text(message, encoding="utf-8")
        os.kill(os.getppid(), signal.SIGTERM)  # the parent stops every worker

    return create_app(settings.loader(), settings.limits, settings.policy, on_load_error=stop_all)


@contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread on a free port; yield its base URL.

    For tests: the socket is bound before the server starts, so the port cannot be taken in
    between.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        yield f"http://{host}:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
