"""A small HTTP service over one run, with dynamic batching (batching.py).

    POST /predict  {"text": "..."}            -> {"label": "positive", "prob_positive": 0.97}
                   {"texts": ["...", "..."]}  -> {"predictions": [{"label", "prob_positive"}, ...]}
                   either with "id": "<yours>" -> the same answer with that "id" echoed
    POST /explain  {"text": "..."}            -> label, prob_positive and per-word contributions
    (a run of k > 2 classes: "probabilities": {"<label>": p, ...} in place of prob_positive)
    GET  /health                              -> live: {"status": "ok", "ready", "run", ...}
    GET  /ready                               -> 200 once the model is loaded, 503 before
    GET  /metrics                             -> Prometheus text format (service_metrics.py)
    GET  /                                    -> the page in sentibench/web/index.html

Limits (`Limits`): characters per text and texts per request (413 over them), the body size
(413), and the time a request may wait for and use the model (503 past it; a request still
queued then is never computed). A full queue is a 503 at once. Every 503 carries Retry-After.
Malformed JSON (nested too deep included), a body that is not UTF-8, a wrong shape or an
empty text are 422. Every error body is {"detail": "<one sentence>"}. /openapi.json declares
every request body and every status with its body (service_schema.py).

Concurrency: the event loop parses requests and puts their texts in the batcher's queue; one
model thread runs them in batches (BatchPolicy) and explanations alone, so the model is never
called from two threads at once. The model may be given loaded, or as a loader that the model
thread runs first (then /ready is 503 until it returns). Shutdown (uvicorn's, on SIGTERM)
waits for open requests, then the batcher drains its queue and stops.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from importlib import resources
from typing import Any, TypeVar

import numpy as np

# At module level: FastAPI reads the handlers' annotations (Request) from this module's globals.
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from sentibench.errors import ConfigError, SentibenchError
from sentibench.inference import service_schema as schema
from sentibench.inference.api import RunModel
from sentibench.inference.batching import Batcher, BatchPolicy, Closed, Expired, QueueFull
from sentibench.inference.service_metrics import MetricsMiddleware, ServiceMetrics
from sentibench.predictor import predicted_ids

T = TypeVar("T")
MAX_ID_CHARS = 128
ENDPOINTS = ("/predict", "/explain", "/health", "/ready", "/metrics", "/")


@dataclass(frozen=True)
class Limits:
    max_chars: int = 20_000  # the longest IMDB review has 13,704 characters
    max_texts: int = 64  # per request; the model's batch is BatchPolicy.batch_size
    timeout_s: float = 30.0
    explain_variants: int = 128  # occlusion costs one prediction per window

    def __post_init__(self) -> None:
        for name in ("max_chars", "max_texts", "explain_variants"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not self.timeout_s > 0:  # "not >" also refuses NaN
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout_s}.")

    @property
    def max_body_bytes(self) -> int:
        # Up to 12 bytes per character (a character outside the BMP is two JSON \\uXXXX
        # escapes) plus room for the JSON around it: any body the schema allows fits.
        return self.max_texts * (self.max_chars * 12 + 64) + MAX_ID_CHARS * 12 + 1024


class RequestError(Exception):
    """A request the service refuses: HTTP status, one sentence, and for 503 when to retry."""

    def __init__(self, status: int, detail: str, retry_after_s: int | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class ParsedRequest:
    texts: list[str]
    single: bool  # {"text": ...}: answer one prediction, not a list
    id: str | None  # the client's id, echoed in the answer


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


def parse_request(payload: Any, limits: Limits, allow_batch: bool = True) -> ParsedRequest:
    """{"text": str} or {"texts": [str, ...]}, each with an optional "id": str, checked against
    the limits (413 over them, 422 for anything else that is wrong)."""
    shape = '{"text": "..."}' + (' or {"texts": ["...", ...]}' if allow_batch else "")
    keys = set(payload) - {"id"} if isinstance(payload, dict) else None
    if keys == {"text"}:
        texts, single = [payload["text"]], True
    elif keys == {"texts"} and allow_batch:
        texts, single = payload["texts"], False
        if not isinstance(texts, list) or not texts:
            raise RequestError(422, '"texts" must be a non-empty list of strings.')
        if len(texts) > limits.max_texts:
            raise RequestError(
                413, f"The request has {len(texts)} texts; the limit is {limits.max_texts}."
            )
    else:
        raise RequestError(422, f"The body must be a JSON object of the form {shape}.")
    request_id = payload.get("id")
    if request_id is not None:
        if not isinstance(request_id, str) or len(request_id) > MAX_ID_CHARS:
            raise RequestError(422, f'"id" must be a string of at most {MAX_ID_CHARS} characters.')
        check_unicode(request_id, "id")
    for index, text in enumerate(texts):
        name = "text" if single else f"texts[{index}]"
        if not isinstance(text, str):
            raise RequestError(422, f"{name} must be a string, not {type(text).__name__}.")
        if not text.strip():
            raise RequestError(422, f"{name} is empty; send the review's text.")
        check_unicode(text, name)
        if len(text) > limits.max_chars:
            raise RequestError(
                413, f"{name} has {len(text):,} characters; the limit is {limits.max_chars:,}."
            )
    return ParsedRequest(texts, single, request_id)


def check_unicode(text: str, name: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:  # JSON can carry a lone "\\ud800"; UTF-8 cannot
        raise RequestError(
            422, f"{name} holds an unpaired surrogate at character {exc.start}; send Unicode."
        ) from None


def answer_rows(proba: list[Any], label_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """/predict's answer per text: label and prob_positive (binary), or label and the class
    probabilities by name (k > 2 classes, `proba` holding a row per text)."""
    labels = predicted_ids(np.asarray(proba))
    if len(label_names) == 2:
        return [
            {"label": label_names[int(label)], "prob_positive": p}
            for label, p in zip(labels, proba, strict=True)
        ]
    return [
        {
            "label": label_names[int(label)],
            "probabilities": dict(zip(label_names, row, strict=True)),
        }
        for label, row in zip(labels, proba, strict=True)
    ]


def page_html() -> str:
    return resources.files("sentibench").joinpath("web/index.html").read_text(encoding="utf-8")


class ModelSlot:
    """The run's model: given loaded, or loaded by `load()` on the model thread."""

    def __init__(
        self,
        model: RunModel | Callable[[], RunModel],
        on_load_error: Callable[[Exception], None] | None = None,
    ) -> None:
        self.model = model if isinstance(model, RunModel) else None
        self.loader = None if isinstance(model, RunModel) else model
        self.on_load_error = on_load_error
        self.error: Exception | None = None

    def load(self) -> None:
        if self.model is not None or self.loader is None:
            return
        try:
            self.model = self.loader()
        except Exception as exc:
            self.error = exc
            if self.on_load_error is not None:
                self.on_load_error(exc)
            raise

    def loaded(self) -> RunModel:
        """The model, or the 503 that says why there is none yet."""
        if self.model is not None:
            return self.model
        if self.error is not None:
            reason = str(self.error) if isinstance(self.error, SentibenchError) else "see its log"
            raise RequestError(503, f"The model failed to load ({reason}).", retry_after_s=60)
        raise RequestError(503, "The model is still loading; retry in a few seconds.", 5)


def create_app(
    model: RunModel | Callable[[], RunModel],
    limits: Limits | None = None,
    policy: BatchPolicy | None = None,
    on_load_error: Callable[[Exception], None] | None = None,
) -> FastAPI:
    """The FastAPI app over a loaded model, or over a loader run on the model thread at
    startup (`on_load_error(exc)` is told if it fails: the server should stop)."""
    limits = limits or Limits()
    policy = policy or BatchPolicy()
    slot = ModelSlot(model, on_load_error)
    metrics = ServiceMetrics(ENDPOINTS)

    def predict_batch(texts: list[str]) -> np.ndarray:
        # One call: RunModel sorts by length and pads each chunk to its longest text.
        model = slot.loaded()
        if len(model.label_names) == 2:  # P(positive) per text
            return model.predict_proba(texts, batch_size=policy.batch_size)
        return model.predict_class_proba(texts, batch_size=policy.batch_size)  # (n, k)

    batcher = Batcher(
        predict_batch, policy, prepare=slot.load,
        on_batch=metrics.batch_texts.observe, on_depth=metrics.queue_depth.set,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        import anyio

        batcher.start()  # loads the model now, not on the first request
        yield
        # uvicorn has waited for open requests; answer anything still queued, off the loop.
        await anyio.to_thread.run_sync(batcher.close)
        metrics.process_stopped()

    app = FastAPI(
        title="sentibench serve",
        description="Sentiment of movie reviews (see POST /predict and POST /explain).",
        lifespan=lifespan,
    )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.state.batcher = batcher  # for tests and tools: queue depth, close()
    page = page_html()

    def loaded_model() -> RunModel:
        """The model, or the 503 that says why not. Starts the model thread when no lifespan
        did (a TestClient used without `with`)."""
        batcher.start()
        return slot.loaded()

    @app.exception_handler(RequestError)
    async def refuse(_: Request, exc: RequestError) -> JSONResponse:
        retry = exc.retry_after_s if exc.retry_after_s is not None else 5
        headers = {"Retry-After": str(retry)} if exc.status == 503 else None
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=headers)

    async def answered(job: Coroutine[Any, Any, T]) -> T:
        """Await a batcher job; its refusals become 503s that say when to retry."""
        try:
            return await job
        except QueueFull:
            raise RequestError(
                503, f"The queue is full ({policy.queue_size} requests); retry in a second.", 1
            ) from None
        except Expired:
            raise RequestError(
                503, f"The model did not answer within {limits.timeout_s:g} s; retry later.", 5
            ) from None
        except Closed:
            raise RequestError(503, "The service is shutting down; retry elsewhere.", 5) from None

    @app.get("/health", response_model=schema.Health)
    async def health() -> dict[str, Any]:
        model = slot.model
        about = dict.fromkeys(("run", "model", "backend", "test_accuracy"))
        if model is not None:
            about = {"run": model.name, "model": model.model, "backend": model.backend,
                     "test_accuracy": model.test_accuracy}  # fmt: skip
        return {
            "status": "ok",
            "ready": model is not None,
            **about,
            "limits": asdict(limits),
            "batching": asdict(policy),
        }

    @app.get(
        "/ready",
        response_model=schema.Ready,
        responses=schema.error_responses(503, why="the model is still loading, or failed to"),
    )
    async def ready() -> dict[str, Any]:
        loaded_model()
        return {"status": "ready"}

    @app.get("/metrics", response_class=Response, responses=schema.METRICS_RESPONSE)
    async def prometheus() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    one_text = schema.one_text_schema(limits.max_chars, MAX_ID_CHARS)
    batch = schema.batch_schema(limits.max_chars, limits.max_texts, MAX_ID_CHARS)

    @app.post(
        "/predict",
        response_model=schema.Prediction
        | schema.Predictions
        | schema.ClassPrediction
        | schema.ClassPredictions,
        response_model_exclude_none=True,  # "id" only when the request had one
        responses=schema.error_responses(413, 422, 503),
        openapi_extra=schema.request_body(
            {"anyOf": [one_text, batch]}, "one text, or a batch of texts"
        ),
    )
    async def predict(request: Request) -> dict[str, Any]:
        parsed = parse_request(await read_json_body(request, limits), limits)
        model = loaded_model()  # 503 while loading: nothing waits in the queue for a model
        proba = await answered(batcher.predict_texts(parsed.texts, limits.timeout_s))
        rows = answer_rows(proba, model.label_names)
        answer = rows[0] if parsed.single else {"predictions": rows}
        return {**answer, "id": parsed.id}

    @app.post(
        "/explain",
        response_model=schema.Explanation | schema.ClassExplanation,
        response_model_exclude_none=True,
        responses=schema.error_responses(413, 422, 503),
        openapi_extra=schema.request_body(one_text, "the text to explain"),
    )
    async def explain(request: Request) -> dict[str, Any]:
        parsed = parse_request(await read_json_body(request, limits), limits, allow_batch=False)
        model, text = loaded_model(), parsed.texts[0]
        explain_text = partial(model.explain, text, 1, limits.explain_variants)
        result = await answered(batcher.call(explain_text, limits.timeout_s))
        return {**result.to_dict(), "id": parsed.id}

    return app
