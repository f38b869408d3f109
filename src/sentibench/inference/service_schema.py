"""What the service's OpenAPI schema (/openapi.json) says it accepts and answers.

The handlers read and check request bodies themselves (service.read_json_body, texts_of: size
limits, one-sentence errors), so the request bodies are declared here as JSON Schemas built
from the service's Limits, and every response (200, 413, 422, 503) as a pydantic model. A body
the schema accepts gets a 200 (or a 503 when the service is loading, full or too slow); one it
refuses gets a 413 (over a limit) or a 422.

A run of k > 2 classes answers ClassPrediction(s) and ClassExplanation: the label's name and
"probabilities" by label name in place of prob_positive; a binary run's answers keep their shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# negative / positive for IMDB; a two-class dataset of other names answers its own
Label = str


ID = Field(None, description="the request's own id, echoed when it sent one")


class Prediction(BaseModel):
    label: Label
    prob_positive: float = Field(ge=0, le=1, description="P(positive); label is positive >= 0.5")
    id: str | None = ID


class Predictions(BaseModel):
    predictions: list[Prediction] = Field(description="one per text, in the order sent")
    id: str | None = ID


PROBABILITIES = Field(description="P(label) for each of the run's labels (they sum to 1)")


class ClassPrediction(BaseModel):
    """A run of k > 2 classes: the most probable label and every label's probability."""

    label: str = Field(description="the name of the most probable label")
    probabilities: dict[str, float] = PROBABILITIES
    id: str | None = ID


class ClassPredictions(BaseModel):
    predictions: list[ClassPrediction] = Field(description="one per text, in the order sent")
    id: str | None = ID


class WordContribution(BaseModel):
    word: str
    start: int = Field(ge=0, description="character offset of the word in the text")
    end: int = Field(ge=0)
    contribution: float = Field(
        description="P(positive) with the word minus without it (k > 2 classes: P(label))"
    )


class Explanation(BaseModel):
    text: str
    prob_positive: float = Field(ge=0, le=1)
    label: Label
    window: int = Field(ge=1, description="words dropped together")
    words: list[WordContribution]
    id: str | None = ID


class ClassExplanation(BaseModel):
    """A run of k > 2 classes: contributions to the probability of the predicted label."""

    text: str
    label: str = Field(description="the name of the most probable label")
    probabilities: dict[str, float] = PROBABILITIES
    window: int = Field(ge=1, description="words dropped together")
    words: list[WordContribution]
    id: str | None = ID


class LimitsInfo(BaseModel):
    max_chars: int
    max_texts: int = Field(description="texts per request")
    timeout_s: float
    explain_variants: int


class BatchingInfo(BaseModel):
    batch_size: int = Field(description="texts per forward pass")
    max_wait_ms: float
    queue_size: int = Field(description="requests that may wait")


class Health(BaseModel):
    status: Literal["ok"]
    ready: bool = Field(description="the model is loaded (GET /ready says the same)")
    run: str | None = Field(description="null until the model is loaded")
    model: str | None
    backend: str | None
    test_accuracy: float | None
    limits: LimitsInfo
    batching: BatchingInfo


class Ready(BaseModel):
    status: Literal["ready"]


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, in one sentence")


def _text(max_chars: int) -> dict[str, Any]:
    # \S: a text of whitespace only is refused as empty (422), as texts_of does.
    return {"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": r"\S"}


def _id(max_id_chars: int) -> dict[str, Any]:
    return {"type": "string", "maxLength": max_id_chars, "description": "echoed in the answer"}


def one_text_schema(max_chars: int, max_id_chars: int) -> dict[str, Any]:
    return {
        "title": "OneText",
        "type": "object",
        "properties": {"text": _text(max_chars), "id": _id(max_id_chars)},
        "required": ["text"],
        "additionalProperties": False,
    }


def batch_schema(max_chars: int, max_texts: int, max_id_chars: int) -> dict[str, Any]:
    return {
        "title": "Batch",
        "type": "object",
        "properties": {
            "texts": {
                "type": "array",
                "items": _text(max_chars),
                "minItems": 1,
                "maxItems": max_texts,
            },
            "id": _id(max_id_chars),
        },
        "required": ["texts"],
        "additionalProperties": False,
    }


def request_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An `openapi_extra` that declares a required JSON request body."""
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


METRICS_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the Prometheus text format: requests by status, latency, batch sizes, "
        "queue depth",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
}


def error_responses(*statuses: int, why: str | None = None) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the refusals a handler can send, each {"detail": "<one sentence>"};
    `why` replaces the usual description (of the one status given)."""
    usual = {
        413: "a text, the request or the body is over the service's limits",
        422: "the body is not UTF-8 JSON of the documented shape, or a text is empty",
        503: "the queue is full, the model is loading, the service is shutting down, or the "
        "model did not answer within the timeout (a request still queued then is dropped); "
        "retry after Retry-After seconds",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": ErrorBody, "description": why or usual[status]}
    if 503 in responses:
        retry = {"description": "seconds to wait", "schema": {"type": "string"}}
        responses[503]["headers"] = {"Retry-After": retry}
    return responses
