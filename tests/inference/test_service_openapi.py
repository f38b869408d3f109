"""The service against its own OpenAPI schema: every body and status it sends is documented,
and schemathesis (bounded: a few examples per endpoint) finds no failure and no 500."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, httpx)")
schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the dev extra")
from fastapi.testclient import TestClient  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import sentibench  # noqa: E402
from sentibench.inference.service import Limits, create_app  # noqa: E402

LIMITS = Limits(max_chars=200, max_batch=4, timeout_s=10)
# The default refusals plus 413: this service refuses a text or a batch over its limits (the
# schema's maxLength / maxItems) with 413, as the schema declares.
REJECTED = ["400", "413", "422"]
EXAMPLES = 12  # per endpoint: with the deterministic coverage cases, seconds in all


@pytest.fixture
def app(keyword_run):
    return create_app(sentibench.load_run(keyword_run), LIMITS)


@pytest.fixture
def api_schema(app):
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=config)


api = schemathesis.pytest.from_fixture("api_schema")


@api.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_service_conforms_to_its_openapi_schema(case):
    case.call_and_validate()


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
    assert texts["maxItems"] == LIMITS.max_batch and texts["items"]["maxLength"] == LIMITS.max_chars
    assert spec["paths"]["/health"]["get"]["responses"]["200"]["content"]


@pytest.mark.parametrize("depth", [1_000, 100_000])
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
