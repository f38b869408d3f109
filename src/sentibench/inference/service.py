"""A small HTTP service over one run: POST /predict, POST /explain, GET /health, GET / (a page).

    POST /predict  {"text": "..."}            -> {"label": "positive", "prob_positive": 0.97}
                   {"texts": ["...", "..."]}  -> {"predictions": [{"label", "prob_positive"}, ...]}
    POST /explain  {"text": "..."}            -> label, prob_positive and per-word contributions
    GET  /health                              -> {"status": "ok", "run", "model", "backend", ...}
    GET  /                                    -> the page in sentibench/web/index.html

Limits (`Limits`): characters per text and texts per batch (413 over them), the body size
(413), and the time one request may wait for and use the model (503 past it). Malformed JSON
(nested too deep included), a body that is not UTF-8, a wrong shape or an empty text are 422.
Every error body is {"detail": "<one sentence>"}. /openapi.json declares every request body
and every status with its body (service_schema.py).

The model is loaded once, before the app is built. Concurrency: requests are served by the
event loop, and model calls run in worker threads behind ONE lock (`SerialInference`), one at
a time. Tokenizers (the HF fast tokenizer raises "Already borrowed" when shared across threads)
and some sklearn objects are not safe to call concurrently, and one torch call already uses
every core, so serialising costs no throughput; batch requests are the way to go faster.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

# At module level: FastAPI reads the handlers' annotations (Request) from this module's globals.
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse

from sentibench.errors import ConfigError
from sentibench.inference import service_schema as schema
from sentibench.inference.api import LABELS, RunModel
from sentibench.predictor import labels_from_proba

T = TypeVar("T")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Limits:
    max_chars: int = 20_000  # the longest IMDB review has 13,704 characters
    max_batch: int = 64
    timeout_s: float = 30.0
    explain_variants: int = 128  # occlusion costs one prediction per window

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_batch", "explain_variants"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if self.timeout_s <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout_s}.")

    @property
    def max_body_bytes(self) -> int:
        # Up to 12 bytes per character (a character outside the BMP is two JSON \\uXXXX
        # escapes) plus room for the JSON around it: any body the schema allows fits.
        return self.max_batch * (self.max_chars * 12 + 64) + 1024


class RequestError(Exception):
    """A request the service refuses: HTTP status and one sentence."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class SerialInference:
    """Run model calls in a worker thread, one at a time, each within a deadline."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.lock = threading.Lock()

    async def __call__(self, function: Callable[..., T], *args: Any) -> T:
        import anyio

        deadline = time.monotonic() + self.timeout_s

        def locked() -> T:
            # Waiting for the lock counts against the same deadline as the work itself.
            if not self.lock.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
                raise TimeoutError
            try:
                return function(*args)
            finally:
                self.lock.release()

        try:
            with anyio.fail_after(self.timeout_s):
                # An abandoned call finishes in its thread (torch cannot be interrupted) and
                # holds the lock until then; the client gets its 503 at the deadline.
                return await anyio.to_thread.run_sync(locked, abandon_on_cancel=True)
        except TimeoutError:
            raise RequestError(
                503, f"The model did not answer within {self.timeout_s:g} s; retry later."
            ) from None


async def read_json_body(request: Request, limits: Limits) -> Any:
    """The request body parsed as JSON, within the size limit; 413 / 422 otherwise."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
        raise RequestError(413, f"The body is over the limit of {limits.max_body_bytes:,} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limits.max_body_bytes:
            raise RequestError(
                413, f"The body is over the limit of {limits.max_body_bytes:,} bytes."
            )
    try:
        text = bytes(body).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(
            422, f"The body is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON."
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RequestError(
            422, f"The body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})."
        ) from None
    except RecursionError:  # arrays or objects nested about a thousand deep
        raise RequestError(
            422, "The body nests arrays or objects too deeply; send a flat JSON object."
        ) from None


def texts_of(payload: Any, limits: Limits, allow_batch: bool = True) -> tuple[list[str], bool]:
    """(texts, single) from {"text": str} or {"texts": [str, ...]}, checked against the limits."""
    shape = '{"text": "..."}' + (' or {"texts": ["...", ...]}' if allow_batch else "")
    keys = set(payload) if isinstance(payload, dict) else None
    if keys == {"text"}:
        texts, single = [payload["text"]], True
    elif keys == {"texts"} and allow_batch:
        texts, single = payload["texts"], False
        if not isinstance(texts, list) or not texts:
            raise RequestError(422, '"texts" must be a non-empty list of strings.')
        if len(texts) > limits.max_batch:
            raise RequestError(
                413, f"The batch has {len(texts)} texts; the limit is {limits.max_batch}."
            )
    else:
        raise RequestError(422, f"The body must be a JSON object of the form {shape}.")
    for index, text in enumerate(texts):
        name = "text" if single else f"texts[{index}]"
        if not isinstance(text, str):
            raise RequestError(422, f"{name} must be a string, not {type(text).__name__}.")
        if not text.strip():
            raise RequestError(422, f"{name} is empty; send the review's text.")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # JSON can carry a lone "\\ud800"; UTF-8 cannot
            raise RequestError(
                422, f"{name} holds an unpaired surrogate at character {exc.start}; send Unicode."
            ) from None
        if len(text) > limits.max_chars:
            raise RequestError(
                413, f"{name} has {len(text):,} characters; the limit is {limits.max_chars:,}."
            )
    return texts, single


def page_html() -> str:
    return resources.files("sentibench").joinpath("web/index.html").read_text(encoding="utf-8")


def create_app(model: RunModel, limits: Limits | None = None) -> FastAPI:
    """The FastAPI app over an already loaded model."""
    limits = limits or Limits()
    infer = SerialInference(limits.timeout_s)
    app = FastAPI(
        title=f"sentibench: {model.name}",
        description="Sentiment of movie reviews (see POST /predict and POST /explain).",
    )
    page = page_html()

    @app.exception_handler(RequestError)
    async def refuse(_: Request, exc: RequestError) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status == 503 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.get("/health", response_model=schema.Health)
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "run": model.name,
            "model": model.model,
            "backend": model.backend,
            "test_accuracy": model.test_accuracy,
            "limits": asdict(limits),
        }

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    one_text = schema.one_text_schema(limits.max_chars)
    batch = schema.batch_schema(limits.max_chars, limits.max_batch)

    @app.post(
        "/predict",
        response_model=schema.Prediction | schema.Predictions,
        responses=schema.error_responses(413, 422, 503),
        openapi_extra=schema.request_body(
            {"anyOf": [one_text, batch]}, "one text, or a batch of texts"
        ),
    )
    async def predict(request: Request) -> dict[str, Any]:
        texts, single = texts_of(await read_json_body(request, limits), limits)
        proba = await infer(model.predict_proba, texts)
        labels = labels_from_proba(proba)
        rows = [
            {"label": LABELS[int(label)], "prob_positive": float(p)}
            for label, p in zip(labels, proba, strict=True)
        ]
        return rows[0] if single else {"predictions": rows}

    @app.post(
        "/explain",
        response_model=schema.Explanation,
        responses=schema.error_responses(413, 422, 503),
        openapi_extra=schema.request_body(one_text, "the text to explain"),
    )
    async def explain(request: Request) -> dict[str, Any]:
        (text,), _ = texts_of(await read_json_body(request, limits), limits, allow_batch=False)
        result = await infer(model.explain, text, 1, limits.explain_variants)
        return result.to_dict()

    return app


def serve(
    run: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    backend: str = "original",
    threads: int | None = None,
    limits: Limits | None = None,
    trust_remote_code: bool = False,
) -> None:
    """Load the run once and serve it with uvicorn until interrupted."""
    import uvicorn

    from sentibench.inference.api import load_run

    limits = limits or Limits()
    model = load_run(run, backend=backend, threads=threads, trust_remote_code=trust_remote_code)
    if host not in LOOPBACK:
        print(f"note: serving on {host}: the service has no authentication.", file=sys.stderr)
    uvicorn.run(create_app(model, limits), host=host, port=port, log_level="info")


@contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread on a free port; yield its base URL.

    For tests and the loopback load test: the socket is bound before the server starts, so the
    port cannot be taken in between.
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
