"""Dynamic batching: many requests, one model thread, one forward pass per batch.

Requests (each a list of texts) wait in a bounded FIFO queue. One worker thread, the only
thread that ever calls the model (the HF fast tokenizer raises "Already borrowed" when shared
across threads, some scikit-learn objects are not thread-safe, and one torch call already uses
every core it is given), takes the oldest request and closes the batch when it holds
`batch_size` texts or when that oldest request has waited `max_wait_ms`, whichever comes
first. The wait counts from the request's arrival (as Triton's max_queue_delay does): under
load it has already passed and batches leave at once; an idle service waits at most
max_wait_ms for company. The batch is one predict call over the combined texts; each request
gets its own slice back.

A full queue refuses at once (`QueueFull`); a request still queued at its deadline is removed
and never computed (`Expired`). `call(fn)` runs other model work (explanations) on the same
thread, alone, in queue order, so nothing touches the model concurrently.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sentibench.errors import ConfigError


class QueueFull(Exception):
    """The queue holds queue_size requests already."""


class Expired(Exception):
    """The request's deadline passed before the model answered it."""


class Closed(Exception):
    """The batcher is shutting down and takes no new requests."""


@dataclass(frozen=True)
class BatchPolicy:
    batch_size: int = 32  # texts per forward pass
    max_wait_ms: float = 5.0  # how long the oldest request may wait for others to join it
    queue_size: int = 128  # requests waiting (not texts: the body limit bounds each request)

    def __post_init__(self) -> None:
        for name in ("batch_size", "queue_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not self.max_wait_ms >= 0:  # "not >=" also refuses NaN
            raise ConfigError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}.")


@dataclass(eq=False)
class _Job:
    texts: list[str] | None  # a predict job; None for a call job
    call: Callable[[], Any] | None
    deadline: float  # time.monotonic()
    arrived: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)


# P(positive) per text, in order; or, for a run of k > 2 classes, k probabilities per text
Predict = Callable[[list[str]], Iterable[Any]]
Answer = float | list[float]


def _plain(value: Any) -> Answer:
    """A float for a probability, a list of floats for a row of class probabilities."""
    if np.ndim(value) == 0:
        return float(value)
    return [float(p) for p in value]


class Batcher:
    """The queue and its worker thread. `prepare` (loading the model) runs first, on the worker
    thread; if it raises, the batcher closes and every request gets that error.
    `on_batch(texts)` and `on_depth(requests)` report to metrics."""

    def __init__(
        self,
        predict: Predict,
        policy: BatchPolicy,
        prepare: Callable[[], None] | None = None,
        on_batch: Callable[[int], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.predict = predict
        self.policy = policy
        self.prepare = prepare
        self.on_batch = on_batch or (lambda _: None)
        self.on_depth = on_depth or (lambda _: None)
        self._queue: deque[_Job] = deque()
        self._changed = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None

    # -- the event loop's side ---------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread (once; later calls do nothing)."""
        with self._changed:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="batcher", daemon=True)
                self._thread.start()

    @property
    def depth(self) -> int:
        """Requests waiting (not yet taken into a batch)."""
        return len(self._queue)

    async def predict_texts(self, texts: list[str], timeout_s: float) -> list[Answer]:
        """P(positive) (or a row of class probabilities) per text, computed in some batch
        within timeout_s."""
        return await self._submit(_Job(texts, None, time.monotonic() + timeout_s))

    async def call(self, function: Callable[[], Any], timeout_s: float) -> Any:
        """function() run on the model thread, alone, within timeout_s."""
        return await self._submit(_Job(None, function, time.monotonic() + timeout_s))

    async def _submit(self, job: _Job) -> Any:
        self.start()
        with self._changed:
            if self._closing:
                raise Closed
            if len(self._queue) >= self.policy.queue_size:
                raise QueueFull
            self._queue.append(job)
            self.on_depth(len(self._queue))
            self._changed.notify()
        try:
            timeout = max(job.deadline - time.monotonic(), 0.0)
            return await asyncio.wait_for(asyncio.wrap_future(job.future), timeout)
        except TimeoutError:
            raise Expired from None
        finally:
            # A timeout (or a cancelled handler) cancelled job.future unless the worker had
            # taken it; a cancelled job leaves the queue now, so it holds no place there.
            if job.future.cancelled():
                self._remove(job)

    def _remove(self, job: _Job) -> None:
        with self._changed:
            if job in self._queue:
                self._queue.remove(job)
                self.on_depth(len(self._queue))

    def close(self, timeout_s: float | None = None) -> None:
        """Refuse new requests, answer every queued one, then stop the worker thread."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join(timeout_s)

    # -- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        try:
            if self.prepare is not None:
                self.prepare()
        except Exception as exc:  # the caller reports it (prepare's own job); refuse the rest
            with self._changed:
                self._closing = True
                while self._queue:
                    job = self._queue.popleft()
                    if job.future.set_running_or_notify_cancel():
                        job.future.set_exception(exc)
            return
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._run(batch)

    def _next_batch(self) -> list[_Job] | None:
        """The next jobs to run together (taken, running), or None once closed and drained."""
        with self._changed:
            while True:
                self._drop_expired()
                if not self._queue:
                    if self._closing:
                        return None
                    self._changed.wait()
                    continue
                first = self._queue[0]
                if first.texts is None:  # a call runs alone
                    return self._take(1)
                count, texts = self._fitting()
                left = first.arrived + self.policy.max_wait_ms / 1000 - time.monotonic()
                # Full, or the next job cannot join (too many texts, or a call), or waited
                # enough, or shutting down (draining does not wait for company).
                full = texts >= self.policy.batch_size or count < len(self._queue)
                if full or left <= 0 or self._closing:
                    return self._take(count)
                self._changed.wait(left)

    def _fitting(self) -> tuple[int, int]:
        """How many leading predict jobs fit in one batch, and their texts (the first job
        always counts, even when it alone holds more than batch_size texts)."""
        count = texts = 0
        for job in self._queue:
            if job.texts is None or (count and texts + len(job.texts) > self.policy.batch_size):
                break
            count, texts = count + 1, texts + len(job.texts)
        return count, texts

    def _take(self, count: int) -> list[_Job]:
        taken = []
        for _ in range(count):
            job = self._queue.popleft()
            # False: the client gave up (cancelled) before the worker got to it; skip it.
            if job.future.set_running_or_notify_cancel():
                taken.append(job)
        self.on_depth(len(self._queue))
        return taken

    def _drop_expired(self) -> None:
        now = time.monotonic()
        expired = [job for job in self._queue if job.deadline <= now]
        for job in expired:
            self._queue.remove(job)
            if job.future.set_running_or_notify_cancel():
                job.future.set_exception(Expired())
        if expired:
            self.on_depth(len(self._queue))

    def _run(self, batch: list[_Job]) -> None:
        if not batch:
            return
        try:
            if batch[0].call is not None:
                batch[0].future.set_result(batch[0].call())
                return
            texts = [text for job in batch for text in job.texts or ()]
            self.on_batch(len(texts))
            proba = [_plain(p) for p in self.predict(texts)]
        except Exception as exc:  # every request of the batch gets the error
            for job in batch:
                job.future.set_exception(exc)
            return
        start = 0
        for job in batch:
            stop = start + len(job.texts or ())
            job.future.set_result(proba[start:stop])
            start = stop
