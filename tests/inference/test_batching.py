"""The batcher alone, over a fake model that records its calls: batches form from concurrent
requests, every request gets its own results, a full queue refuses, an expired request is never
computed, close() drains, and nothing calls the model from two threads at once."""

from __future__ import annotations

import asyncio
import random

import pytest
from serving_fakes import FakeModel, text  # tests/ is on sys.path (tests/conftest.py)

from sentibench.errors import ConfigError
from sentibench.inference.batching import Batcher, BatchPolicy, Closed, Expired, QueueFull


def batcher(model: FakeModel, **policy: float) -> Batcher:
    return Batcher(model.predict, BatchPolicy(**{"max_wait_ms": 200, **policy}))  # type: ignore[arg-type]


def test_concurrent_requests_share_forward_passes():
    model = FakeModel()
    queue = batcher(model, batch_size=8)

    async def clients() -> list[list[float]]:
        return await asyncio.gather(*(queue.predict_texts([text(i)], 5) for i in range(16)))

    results = asyncio.run(clients())
    assert [len(call) for call in model.calls] == [8, 8]  # 16 requests, 2 model calls
    assert results == [[i / 1000] for i in range(16)]


def test_each_request_gets_its_own_results_whatever_the_lengths():
    rng = random.Random(0)
    model = FakeModel()
    queue = batcher(model, batch_size=16, max_wait_ms=20)
    requests = [[text(100 * r + k, rng.randint(0, 50)) for k in range(rng.randint(1, 5))]
                for r in range(40)]  # fmt: skip

    async def clients() -> list[list[float]]:
        async def one(texts: list[str]) -> list[float]:
            await asyncio.sleep(rng.random() / 100)  # arrivals spread over batches
            return await queue.predict_texts(texts, 5)

        return await asyncio.gather(*(one(texts) for texts in requests))

    results = asyncio.run(clients())
    for texts, result in zip(requests, results, strict=True):
        assert result == [int(t.split()[0]) / 1000 for t in texts]
    assert len(model.calls) < len(requests) and max(map(len, model.calls)) <= 16
    assert not model.overlapped


def test_a_full_queue_refuses_at_once_and_an_expired_request_is_never_computed():
    model = FakeModel()
    model.gate.clear()  # the first request holds the model thread
    queue = batcher(model, batch_size=1, max_wait_ms=0, queue_size=2)

    async def scenario() -> None:
        first = asyncio.ensure_future(queue.predict_texts([text(1)], 5))
        await asyncio.to_thread(model.entered.wait, 5)
        waiting = asyncio.ensure_future(queue.predict_texts([text(2)], 5))
        expiring = asyncio.ensure_future(queue.predict_texts([text(3)], 0.1))
        await asyncio.sleep(0)
        with pytest.raises(QueueFull):  # two requests wait: the third is refused, not queued
            await queue.predict_texts([text(4)], 5)
        with pytest.raises(Expired):
            await expiring
        assert queue.depth == 1  # the expired request left the queue at its deadline
        model.gate.set()
        assert await first == [0.001] and await waiting == [0.002]

    asyncio.run(scenario())
    assert text(3) not in model.computed() and text(4) not in model.computed()


def test_close_answers_every_queued_request_then_refuses():
    model = FakeModel()
    model.gate.clear()
    queue = batcher(model, batch_size=2, max_wait_ms=10_000)  # a long wait: close cuts it

    async def scenario() -> list[list[float]]:
        jobs = [asyncio.ensure_future(queue.predict_texts([text(i)], 30)) for i in range(5)]
        await asyncio.to_thread(model.entered.wait, 5)
        closing = asyncio.ensure_future(asyncio.to_thread(queue.close))
        await asyncio.sleep(0.05)
        with pytest.raises(Closed):
            await queue.predict_texts([text(9)], 5)
        model.gate.set()
        await closing
        return await asyncio.gather(*jobs)

    assert asyncio.run(scenario()) == [[i / 1000] for i in range(5)]


def test_calls_run_alone_in_queue_order():
    model = FakeModel()
    queue = batcher(model, batch_size=8, max_wait_ms=50)
    seen: list[int] = []

    def explain() -> str:
        seen.append(len(model.calls))
        return "explained"

    async def scenario() -> list[object]:
        return await asyncio.gather(
            queue.predict_texts([text(1)], 5),
            queue.call(explain, 5),
            queue.predict_texts([text(2)], 5),
        )

    assert asyncio.run(scenario()) == [[0.001], "explained", [0.002]]
    assert seen == [1] and [len(call) for call in model.calls] == [1, 1]  # not merged across it


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [({"batch_size": 0}, "batch_size must be >= 1"), ({"queue_size": -1}, "queue_size"),
     ({"max_wait_ms": -1}, "max_wait_ms must be >= 0"),
     ({"max_wait_ms": float("nan")}, "max_wait_ms")],
)  # fmt: skip
def test_bad_policies_are_one_sentence(policy, fragment):
    with pytest.raises(ConfigError, match=fragment):
        BatchPolicy(**policy)
