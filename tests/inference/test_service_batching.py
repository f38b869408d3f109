"""The service under concurrent load, in process (FastAPI's test client), over the keyword run
with a fake model inside (tests/serving_fakes.py): requests share forward passes and each gets
its own answer and id back, a full queue is a 503 with Retry-After, /metrics parses with
prometheus-client's own parser, and /ready waits for the model."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, httpx)")
pytest.importorskip("prometheus_client", reason="the service needs the serve extra")
from fastapi.testclient import TestClient  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402
from serving_fakes import FakeModel, score, text  # noqa: E402

import sentibench  # noqa: E402
from sentibench.errors import DataError  # noqa: E402
from sentibench.inference.api import RunModel  # noqa: E402
from sentibench.inference.batching import BatchPolicy  # noqa: E402
from sentibench.inference.service import Limits, create_app  # noqa: E402


@pytest.fixture
def fake(keyword_run) -> tuple[RunModel, FakeModel]:
    """The keyword run with the fake model in place of its predictor (RunModel still sorts the
    batch by length and puts the results back in order)."""
    model = sentibench.load_run(keyword_run)
    model.predictor = FakeModel(delay_s=0.005)
    return model, model.predictor


def samples(client: TestClient) -> dict[tuple[str, tuple], float]:
    """/metrics as {(sample name, sorted labels): value}, read by prometheus-client's parser."""
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_concurrent_requests_share_batches_and_get_their_own_answers(fake):
    model, predictor = fake
    client = TestClient(create_app(model, Limits(timeout_s=10), BatchPolicy(16, 20)))
    rng = random.Random(1)

    def texts(first: int, count: int) -> list[str]:  # shuffled lengths: 1 to 61 words
        return [text(first + k, rng.randint(0, 60)) for k in range(count)]

    bodies: list[dict] = [{"id": f"many-{i}", "texts": texts(10 * i, i % 4 + 1)} for i in range(24)]
    bodies += [{"id": f"one-{i}", "text": text(900 + i, rng.randint(0, 60))} for i in range(12)]
    rng.shuffle(bodies)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda body: client.post("/predict", json=body), bodies))
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.status_code == 200, answer.text
        got = answer.json()
        assert got["id"] == body["id"]
        if "texts" in body:
            assert [p["prob_positive"] for p in got["predictions"]] == score(body["texts"])
        else:
            assert got["prob_positive"] == score([body["text"]])[0]
    assert len(predictor.calls) < len(bodies) and not predictor.overlapped
    no_id = client.post("/predict", json={"text": text(5)}).json()
    assert "id" not in no_id and no_id["label"] == "negative"


def test_a_full_queue_is_a_503_with_retry_after_and_metrics_count_it(fake):
    model, predictor = fake
    app = create_app(model, Limits(timeout_s=10), BatchPolicy(1, 0, queue_size=2))
    client = TestClient(app)
    predictor.gate.clear()  # the first request holds the model thread; two more wait
    with ThreadPoolExecutor(3) as pool:
        # Request 1 first, inside the model, before 2 and 3 queue: sent together, 3 could
        # find 1 and 2 still queued (a 503), or the gauge be read as the thread takes 1.
        held = [pool.submit(client.post, "/predict", json={"text": text(1)})]
        assert predictor.entered.wait(5), "the model thread never took the first request"
        held += [pool.submit(client.post, "/predict", json={"text": text(i)}) for i in (2, 3)]
        deadline = time.monotonic() + 5
        while app.state.batcher.depth < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert samples(client)[("sentibench_queue_depth", ())] == 2
        started = time.perf_counter()
        refused = client.post("/predict", json={"text": text(4)})
        assert refused.status_code == 503 and "queue is full" in refused.json()["detail"]
        assert refused.headers["retry-after"] == "1" and time.perf_counter() - started < 1
        predictor.gate.set()
        assert [f.result().json()["prob_positive"] for f in held] == [0.001, 0.002, 0.003]
    metrics = samples(client)
    predict = (("endpoint", "/predict"),)
    assert metrics[("sentibench_requests_total", (*predict, ("status", "200")))] == 3
    assert metrics[("sentibench_requests_total", (*predict, ("status", "503")))] == 1
    assert metrics[("sentibench_request_seconds_count", predict)] == 4
    assert metrics[("sentibench_batch_texts_count", ())] == 3  # one text per forward pass
    assert metrics[("sentibench_batch_texts_sum", ())] == 3
    assert metrics[("sentibench_queue_depth", ())] == 0
    assert text(4) not in predictor.computed()


def test_ready_is_503_until_the_model_is_loaded(keyword_run):
    release = threading.Event()

    def load() -> RunModel:
        release.wait(10)
        return sentibench.load_run(keyword_run)

    with TestClient(create_app(load)) as client:
        waiting = client.get("/ready")
        assert waiting.status_code == 503 and "still loading" in waiting.json()["detail"]
        assert waiting.headers["retry-after"]
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["ready"] is False
        assert client.post("/predict", json={"text": "great"}).status_code == 503
        release.set()
        deadline = time.monotonic() + 10
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "the model never became ready"
            time.sleep(0.02)
        assert client.get("/health").json()["model"] == "keyword"
        assert client.post("/predict", json={"text": "great"}).json()["label"] == "positive"


def test_a_model_that_fails_to_load_says_why_on_ready():
    failures: list[Exception] = []

    def load() -> RunModel:
        raise DataError("The run's model file is damaged.")

    with TestClient(create_app(load, on_load_error=failures.append)) as client:
        deadline = time.monotonic() + 5
        while not failures and time.monotonic() < deadline:
            time.sleep(0.01)
        answer = client.get("/ready")
        assert answer.status_code == 503 and "damaged" in answer.json()["detail"]
    assert [str(f) for f in failures] == ["The run's model file is damaged."]
