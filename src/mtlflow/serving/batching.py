"""Dynamic batching: concurrent requests for one signature run as one model call.

A request waits in its queue (one per servable, signature and non-batch input shape)
until the queue holds ``max_batch_size`` rows, ``batch_timeout_micros`` have passed since
the oldest request arrived, or no other request is on its way (so a lone request is not
held for nothing). Batches are formed only when an execution thread is free, so while
the model is busy requests accumulate into bigger batches. The rows of a batch are
concatenated, the signature runs once, and each request gets its own rows back, cut to
the shape it would have had alone (padded outputs are trimmed per the model card).
If a batch's model call fails, its requests are run one by one, so one bad request fails
alone.

Nothing can hang: every request's future is resolved on every path (a failure anywhere
after a batch is formed — concatenating, splitting, a bug — resolves all of its futures
with the error), and a request waits at most ``deadline_seconds`` for its answer, then
gets :func:`~mtlflow.serving.errors.deadline_exceeded` (and leaves the queue if it is still
in it). The scheduler thread survives any error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, NamedTuple

import grpc
import numpy as np

from mtlflow.serving.errors import ServingError, deadline_exceeded

log = logging.getLogger("mtlflow.serving")

Outputs = dict[str, np.ndarray]


class _Task(NamedTuple):
    inputs: dict[str, np.ndarray]
    rows: int
    run: Callable[[dict[str, np.ndarray]], Outputs]
    padding: dict[str, dict]
    future: Future
    arrived: float


def concat_inputs(parts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _extent(value: np.ndarray, pad) -> int:
    """1 + the last index along axis 1 where some row is not ``pad`` (0 if none)."""
    if value.ndim < 2 or value.shape[1] == 0:
        return 0
    pad = pad.encode() if isinstance(pad, str) and value.dtype == object else pad
    differs = value != pad
    if differs.ndim > 2:
        differs = differs.reshape(differs.shape[0], differs.shape[1], -1).any(axis=2)
    columns = np.flatnonzero(differs.any(axis=0))
    return int(columns[-1]) + 1 if columns.size else 0


def split_outputs(outputs: Outputs, sizes: list[int], padding: dict[str, dict]) -> list[Outputs]:
    """Cuts batched ``outputs`` into per-request outputs of ``sizes`` rows each.

    Outputs listed in ``padding`` (``{output: {"group", "pad"}}``) are trimmed along axis 1
    to the longest extent in their group within the request.
    """
    results, start = [], 0
    for size in sizes:
        part = {k: v[start : start + size] for k, v in outputs.items()}
        extents: dict[str, int] = {}
        for name, layout in padding.items():
            if name in part:
                group = layout["group"]
                extents[group] = max(extents.get(group, 0), _extent(part[name], layout["pad"]))
        for name, layout in padding.items():
            if name in part:
                part[name] = part[name][:, : extents[layout["group"]]]
        results.append(part)
        start += size
    return results


class Batcher:
    """Groups concurrent requests into batches.

    Args:
      max_batch_size: most rows in one model call (a request may not exceed it).
      batch_timeout_micros: longest a request waits for others to join its batch.
      num_batch_threads: model calls that may run at once.
      on_batch: called with ``(key, rows)`` after each model call (metrics).
      deadline_seconds: longest a request waits for its answer.
      on_deadline: called with ``key`` for each request that missed the deadline (metrics).
    """

    def __init__(self, max_batch_size: int = 32, batch_timeout_micros: int = 2000, num_batch_threads: int = 2,
                 on_batch: Callable[[tuple, int], None] | None = None, deadline_seconds: float = 30.0,
                 on_deadline: Callable[[tuple], None] | None = None):
        if max_batch_size < 1:
            raise ValueError(f"Argument `max_batch_size` must be >= 1. Received: max_batch_size={max_batch_size}")
        if batch_timeout_micros < 0:
            raise ValueError(f"Argument `batch_timeout_micros` must be >= 0. Received: {batch_timeout_micros}")
        if num_batch_threads < 1:
            raise ValueError(f"Argument `num_batch_threads` must be >= 1. Received: {num_batch_threads}")
        if not deadline_seconds > 0:
            raise ValueError(f"Argument `deadline_seconds` must be > 0. Received: {deadline_seconds}")
        self.deadline = deadline_seconds
        self._on_deadline = on_deadline
        self.max_batch_size = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self.num_batch_threads = num_batch_threads
        self._on_batch = on_batch
        self._queues: dict[tuple, deque[_Task]] = {}
        self._cond = threading.Condition()
        self._arriving = 0  # requests announced (being decoded) but not yet submitted
        self._slots = threading.Semaphore(num_batch_threads)
        self._pool = ThreadPoolExecutor(num_batch_threads, thread_name_prefix="batch")
        self._stopped = False
        self._thread = threading.Thread(target=self._schedule, name="batch-scheduler", daemon=True)
        self._thread.start()

    # ---- request side -----------------------------------------------------------------
    def arriving(self) -> "_Arrival":
        """Context manager a request holds while it is decoded, so batches wait for it."""
        return _Arrival(self)

    def run(self, key: tuple, inputs: dict[str, np.ndarray], rows: int,
            run: Callable[[dict[str, np.ndarray]], Outputs], padding: dict[str, dict],
            arrival: "_Arrival | None" = None) -> Outputs:
        """Runs ``run`` on ``inputs`` as part of a batch of requests with the same ``key``.

        ``arrival``: the request's :meth:`arriving` context, closed once it is queued.
        """
        future: Future = Future()
        task = _Task(inputs, rows, run, padding, future, time.perf_counter())
        with self._cond:
            if arrival is not None and arrival._open:
                arrival._open = False
                self._arriving -= 1
            if self._stopped:
                raise ServingError("the server is shutting down", grpc.StatusCode.UNAVAILABLE)
            self._queues.setdefault(key, deque()).append(task)
            self._cond.notify_all()
        try:
            return future.result(timeout=self.deadline)
        except FutureTimeout:
            future.cancel()  # still queued: it will not run (a running batch cannot be stopped)
            if self._on_deadline is not None:
                self._on_deadline(key)
            raise deadline_exceeded(f"no answer within the batch deadline of {self.deadline:g} s "
                                    "(--batch-deadline-seconds); the server is overloaded or stuck") from None

    # ---- scheduler ----------------------------------------------------------------------
    def _ready(self, queue: deque[_Task], now: float) -> bool:
        rows = sum(t.rows for t in queue)
        return rows >= self.max_batch_size or now >= queue[0].arrived + self.timeout or self._arriving == 0

    def _schedule(self) -> None:
        while True:
            try:
                if not self._schedule_one():
                    return
            except BaseException as exc:  # never die: requests would wait for nothing
                log.exception("batch scheduler error (recovered): %s", exc)
                time.sleep(0.01)

    def _schedule_one(self) -> bool:
        """Forms and submits one batch; False once stopped with nothing left."""
        self._slots.acquire()
        batch: list[_Task] = []
        try:
            with self._cond:
                while not batch:
                    if self._stopped and not any(self._queues.values()):
                        self._slots.release()
                        return False
                    pending = [(q[0].arrived, k) for k, q in self._queues.items() if q]
                    if not pending:
                        self._cond.wait()
                        continue
                    _, key = min(pending)
                    queue = self._queues[key]
                    now = time.perf_counter()
                    if self._stopped or self._ready(queue, now):
                        batch = self._take(queue)
                        if not queue:
                            del self._queues[key]
                    else:
                        self._cond.wait(max(0.0, queue[0].arrived + self.timeout - now))
            self._pool.submit(self._execute, key, batch)
        except BaseException as exc:
            self._slots.release()
            _fail(batch, exc)
            raise
        return True

    def _take(self, queue: deque[_Task]) -> list[_Task]:
        """Up to ``max_batch_size`` rows from the head of ``queue``, skipping cancelled requests."""
        batch: list[_Task] = []
        rows = 0
        while queue and (not batch or rows + queue[0].rows <= self.max_batch_size):
            task = queue.popleft()
            if task.future.set_running_or_notify_cancel():  # False: it gave up (deadline)
                batch.append(task)
                rows += task.rows
        return batch

    def _execute(self, key: tuple, batch: list[_Task]) -> None:
        try:
            self._run_batch(key, batch)
        except BaseException as exc:
            log.exception("model %s: a batch of %d request(s) failed", key[0] if key else "?", len(batch))
            _fail(batch, exc)
        finally:
            _fail(batch, RuntimeError("the batch ended without an answer for this request"))  # no-op if answered
            self._slots.release()

    def _run_batch(self, key: tuple, batch: list[_Task]) -> None:
        head = batch[0]
        if len(batch) == 1:
            self._finish(head, lambda: head.run(head.inputs))
        else:
            try:
                outputs = head.run(concat_inputs([t.inputs for t in batch]))
            except Exception:  # run them alone: only the request at fault fails
                for task in batch:
                    self._finish(task, lambda t=task: t.run(t.inputs))
            else:
                parts = split_outputs(outputs, [t.rows for t in batch], head.padding)
                for task, part in zip(batch, parts):
                    _resolve(task.future, result=part)
        if self._on_batch is not None:
            try:
                self._on_batch(key, sum(t.rows for t in batch))
            except Exception:  # metrics must not fail requests
                log.exception("batch metrics failed")

    @staticmethod
    def _finish(task: _Task, call) -> None:
        try:
            result = call()
        except BaseException as exc:  # delivered to the waiting request
            _resolve(task.future, exception=exc)
        else:
            _resolve(task.future, result=result)

    def stop(self) -> None:
        """Runs what is queued, then stops the threads."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=30)
        self._pool.shutdown(wait=True)


def _resolve(future: Future, result=None, exception: BaseException | None = None) -> None:
    """Sets a future's outcome unless it already has one (answered, or cancelled at its deadline)."""
    if future.done():
        return
    try:
        if exception is not None:
            future.set_exception(exception)
        else:
            future.set_result(result)
    except Exception:  # InvalidStateError: resolved concurrently
        pass


def _fail(batch: list[_Task], exc: BaseException) -> None:
    """Resolves every unanswered future of ``batch`` with an INTERNAL error naming ``exc``."""
    error = exc if isinstance(exc, ServingError) else ServingError(
        f"internal error while batching: {type(exc).__name__}: {exc}", grpc.StatusCode.INTERNAL)
    for task in batch:
        _resolve(task.future, exception=error)


class _Arrival:
    def __init__(self, batcher: Batcher):
        self._batcher = batcher
        self._open = False

    def __enter__(self) -> "_Arrival":
        with self._batcher._cond:
            self._batcher._arriving += 1
        self._open = True
        return self

    def done(self) -> None:
        """The request is submitted (or failed): batches need not wait for it any more."""
        if self._open:
            self._open = False
            with self._batcher._cond:
                self._batcher._arriving -= 1
                self._batcher._cond.notify_all()

    def __exit__(self, *exc) -> None:
        self.done()
