"""What the service's OpenAPI schema (/openapi.json) says it accepts and answers.

The handlers read and check request bodies themselves (service.read_json_body, texts_of: size
limits, one-sentence errors), so the request bodies are declared here as JSON Schemas built
from the service's Limits, and every response (200, 413, 422, 503) as a pydantic model. A body
the schema accepts gets a 200; one it refuses gets a 413 (over a limit) or a 422.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

Label = Literal["negative", "positive"]


class Prediction(BaseModel):
    label: Label
    prob_positive: float = Field(ge=0, le=1, description="P(positive); label is positive >= 0.5")


class Predictions(BaseModel):
    predictions: list[Prediction] = Field(description="one per text, in the order sent")


class WordContribution(BaseModel):
    word: str
    start: int = Field(ge=0, description="character offset of the word in the text")
    end: int = Field(ge=0)
    contribution: float = Field(description="P(positive) with the word minus without it")


class Explanation(BaseModel):
    text: str
    prob_positive: float = Field(ge=0, le=1)
    label: Label
    window: int = Field(ge=1, description="words dropped together")
    words: list[WordContribution]


class LimitsInfo(BaseModel):
    max_chars: int
    max_batch: int
    timeout_s: float
    explain_variants: int


class Health(BaseModel):
    status: Literal["ok"]
    run: str
    model: str
    backend: str
    test_accuracy: float | None
    limits: LimitsInfo


class ErrorBody(BaseModel):
    detail: str = Field(description="what was wrong, in one sentence")


def _text(max_chars: int) -> dict[str, Any]:
    # \S: a text of whitespace only is refused as empty (422), as texts_of does.
    return {"type": "string", "minLength": 1, "maxLength": max_chars, "pattern": r"\S"}


def one_text_schema(max_chars: int) -> dict[str, Any]:
    return {
        "title": "OneText",
        "type": "object",
        "properties": {"text": _text(max_chars)},
        "required": ["text"],
        "additionalProperties": False,
    }


def batch_schema(max_chars: int, max_batch: int) -> dict[str, Any]:
    return {
        "title": "Batch",
        "type": "object",
        "properties": {
            "texts": {
                "type": "array",
                "items": _text(max_chars),
                "minItems": 1,
                "maxItems": max_batch,
            }
        },
        "required": ["texts"],
        "additionalProperties": False,
    }


def request_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """An `openapi_extra` that declares a required JSON request body."""
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "description": description, "content": content}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for the refusals a handler can send, each {"detail": "<one sentence>"}."""
    why = {
        413: "a text, the batch or the body is over the service's limits",
        422: "the body is not UTF-8 JSON of the documented shape, or a text is empty",
        503: "the model did not answer within the timeout; retry later",
    }
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {"model": ErrorBody, "description": why[status]}
    if 503 in responses:
        retry = {"description": "seconds to wait", "schema": {"type": "string"}}
        responses[503]["headers"] = {"Retry-After": retry}
    return responses
