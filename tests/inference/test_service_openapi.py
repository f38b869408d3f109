"""The service against its own OpenAPI schema: every body and status it sends is documented,
and schemathesis (bounded: a few examples per endpoint) finds no failure and no 500."""

from __future__ import annotations

import sys

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, httpx)")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

import sentibench  # noqa: E402
from sentibench.inference.service import Limits, create_app  # noqa: E402

LIMITS = Limits(max_chars=200, max_texts=4, timeout_s=10)
# The default refusals plus 413: this service refuses a text or a batch over its limits (the
# schema's maxLength / maxItems) with 413, as the schema declares.
REJECTED = ["400", "413", "422"]
EXAMPLES = 12  # per endpoint: with the deterministic coverage cases, seconds in all


@pytest.fixture
def app(keyword_run):
    return create_app(sentibench.load_run(keyword_run), LIMITS)


@pytest.fixture
def ieee_floats():
    """Training in this process (train/loop.py) flushes denormal floats process-wide, and
    hypothesis refuses to generate floats then: turn it off for the test, then back on."""
    torch = sys.modules.get("torch")
    flushed = sys.float_info.min / 2 == 0.0
    if torch is not None and flushed:
        torch.set_flush_denormal(False)
    yield
    if torch is not None and flushed:
        torch.set_flush_denormal(True)


@pytest.fixture
def api_schema(app, ieee_floats):
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


# Not schemathesis.pytest.from_fixture + @parametrize: its lazy loader sets Function._nodeid,
# which pytest 9 no longer has. One hypothesis test per operation and mode does the same.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_service_conforms_to_its_openapi_schema(api_schema, mode):
    tried: dict[str, int] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if mode.is_negative and not operation.body:
            continue  # nothing to send wrong: GET /health and GET / take no input

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,  # writes nothing into the working folder
            derandomize=True,  # the same cases every run: CI cannot be flaky
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case):
            tried[case.operation.label] = tried.get(case.operation.label, 0) + 1
            case.call_and_validate()  # status, content type, headers and body vs the schema

        conforms()
    posts = {"POST /predict", "POST /explain"}
    gets = {"GET /health", "GET /ready", "GET /metrics", "GET /"}
    assert set(tried) == (posts if mode.is_negative else posts | gets)


def test_the_schema_documents_every_body_and_status(app):
    spec = TestClient(app).get("/openapi.json").json()
    for path in ("/predict", "/explain"):
        operation = spec["paths"][path]["post"]
        assert operation["requestBody"]["required"] is True
        assert "application/json" in operation["requestBody"]["content"]
        assert {"200", "413", "422", "503"} <= set(operation["responses"])
        for status in ("413", "422", "503"):
            body = operation["responses"][status]["content"]["application/json"]["schema"]
            assert body == {"$ref": "#/components/schemas/ErrorBody"}
        assert "Retry-After" in operation["responses"]["503"]["headers"]
    batch = spec["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    texts = batch["schema"]["anyOf"][1]["properties"]["texts"]
    assert texts["maxItems"] == LIMITS.max_texts and texts["items"]["maxLength"] == LIMITS.max_chars
    assert spec["paths"]["/health"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("depth", [1_000, 4_000])  # both within the body limit
@pytest.mark.parametrize("wrap", ["{}", '{{"text": {}}}'])
def test_deeply_nested_json_is_a_422_not_a_500(app, depth, wrap):
    body = wrap.format("[" * depth + "]" * depth)
    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/predict", "/explain"):
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert "nests" in response.json()["detail"] or "must be" in response.json()["detail"]


def test_a_lone_surrogate_is_a_422_not_a_500(app):
    client = TestClient(app, raise_server_exceptions=False)
    body = b'{"text": "great \\ud800 film"}'
    response = client.post("/explain", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422 and "surrogate" in response.json()["detail"]
