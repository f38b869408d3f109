"""The HTTP service with FastAPI's test client: good, oversized, malformed, empty, non-UTF-8."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, httpx)")
from fastapi.testclient import TestClient  # noqa: E402

import sentibench  # noqa: E402
from sentibench.inference.service import Limits, create_app  # noqa: E402


@pytest.fixture
def model(keyword_run):
    return sentibench.load_run(keyword_run)


@pytest.fixture
def client(model):
    return TestClient(create_app(model, Limits(max_chars=200, max_texts=4, timeout_s=5)))


def test_health_and_page(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == "keyword"
    assert health["limits"]["max_texts"] == 4
    page = client.get("/")
    assert page.status_code == 200 and 'id="classify"' in page.text


def test_predict_one_text_and_a_batch(client, model):
    one = client.post("/predict", json={"text": "a great film"})
    assert one.status_code == 200
    assert one.json()["label"] == "positive"
    assert one.json()["prob_positive"] == pytest.approx(model.predict_proba(["a great film"])[0])
    batch = client.post("/predict", json={"texts": ["excellent", "the worst", "bad"]}).json()
    assert [p["label"] for p in batch["predictions"]] == ["positive", "negative", "negative"]


def test_explain_returns_word_contributions(client):
    body = client.post("/explain", json={"text": "great acting, worst plot"}).json()
    by_word = {w["word"]: w["contribution"] for w in body["words"]}
    assert by_word["great"] > 0 > by_word["worst"] and body["label"] in ("positive", "negative")
    refused = client.post("/explain", json={"texts": ["great"]})
    assert refused.status_code == 422 and '{"text": "..."}' in refused.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"text": "x" * 201}, 413, "text has 201 characters; the limit is 200"),
        ({"texts": ["ok"] * 5}, 413, "The request has 5 texts; the limit is 4"),
        ({"texts": ["ok", "x" * 201]}, 413, "texts[1] has 201 characters"),
        ({"text": "   "}, 422, "text is empty"),
        ({"texts": ["ok", ""]}, 422, "texts[1] is empty"),
        ({"texts": []}, 422, "non-empty list"),
        ({"text": 5}, 422, "text must be a string, not int"),
        ({"review": "great"}, 422, "must be a JSON object of the form"),
        (["great"], 422, "must be a JSON object of the form"),
    ],
)
def test_refusals_say_why(client, body, status, fragment):
    response = client.post("/predict", json=body)
    assert response.status_code == status
    assert fragment in response.json()["detail"]


def test_malformed_non_utf8_and_oversized_bodies(client):
    bad_json = client.post("/predict", content=b'{"text": "great"', headers=JSON)
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["detail"]
    latin1 = client.post("/predict", content='{"text": "café"}'.encode("latin-1"), headers=JSON)
    assert latin1.status_code == 422 and "not valid UTF-8" in latin1.json()["detail"]
    huge = client.post("/predict", content=b"x" * (Limits(200, 4).max_body_bytes + 1), headers=JSON)
    assert huge.status_code == 413 and "bytes" in huge.json()["detail"]


JSON = {"Content-Type": "application/json"}


class SlowModel:
    """A model that takes `delay` seconds per call and records calls that overlap."""

    def __init__(self, model, delay: float) -> None:
        self.model, self.delay = model, delay
        self.inside, self.overlaps = 0, 0
        self.guard = threading.Lock()

    def predict_proba(self, texts):
        with self.guard:
            self.inside += 1
            self.overlaps += self.inside > 1
        time.sleep(self.delay)
        with self.guard:
            self.inside -= 1
        return self.model.predict_proba(texts)


def test_concurrent_requests_use_the_model_one_at_a_time(model):
    slow = SlowModel(model.predictor, 0.02)
    model.predictor = slow
    client = TestClient(create_app(model, Limits(timeout_s=10)))
    texts = [f"great film number {i}" if i % 2 else f"worst film {i}" for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda t: client.post("/predict", json={"text": t}), texts))
    assert all(r.status_code == 200 for r in responses)
    labels = [r.json()["label"] for r in responses]
    assert labels == ["negative", "positive"] * 8 and slow.overlaps == 0


def test_a_slow_model_gives_503_not_a_hang(model):
    model.predictor = SlowModel(model.predictor, 1.0)
    client = TestClient(create_app(model, Limits(timeout_s=0.2)))
    started = time.perf_counter()
    response = client.post("/predict", json={"text": "great"})
    assert response.status_code == 503 and "within 0.2 s" in response.json()["detail"]
    assert response.headers["retry-after"] and time.perf_counter() - started < 0.9
