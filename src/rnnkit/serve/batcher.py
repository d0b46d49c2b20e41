"""Micro-batching: concurrent requests to one model share a forward pass.

Each served model has one worker. A request's items (texts) wait in a bounded queue; the worker takes
the first request, then every request that arrives within a short window (``wait`` seconds) and
asks for the same settings (``key``: a beam size, say; a key of its own, such as ``object()``, keeps a
request alone: generation), up to ``max_items`` items, and runs them as
one call of ``run(key, items)`` in its own thread, so the event loop keeps answering. Each request gets
its own slice of the results. A full queue is refused at once (the server answers 503 with
Retry-After), and a request that outlives its timeout is answered 504 while its batch runs on.

One thread per model also keeps a model's forward passes from interleaving: PyTorch modules are not
promised to be thread-safe, and one call over a batch uses the cores better than several small ones.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, List, Optional


class QueueFull(Exception):
    """The model's queue holds as many requests as it may: come back later."""


@dataclass
class Job:
    items: List[Any]
    key: Hashable
    future: asyncio.Future = field(repr=False)


class Batcher:
    def __init__(self, run: Callable[[Hashable, List[Any]], List[Any]], name: str, max_items: int = 32,
                 wait: float = 0.005, queue_size: int = 64):
        self.run, self.name, self.max_items, self.wait = run, name, max_items, wait
        self.queue: "asyncio.Queue[Job]" = asyncio.Queue(maxsize=queue_size)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"rnnkit-{name}")
        self.held: Optional[Job] = None  # a job of another key, first in line for the next batch
        self.batches = 0  # calls of ``run`` so far (a batch of k requests counts once)
        self.worker = asyncio.get_running_loop().create_task(self._work())

    async def submit(self, items: List[Any], key: Hashable = None) -> List[Any]:
        """The results for ``items`` (in order), computed in some batch; QueueFull when the queue is full."""
        job = Job(list(items), key, asyncio.get_running_loop().create_future())
        try:
            self.queue.put_nowait(job)
        except asyncio.QueueFull:
            raise QueueFull(f"model {self.name!r} has {self.queue.maxsize} requests waiting") from None
        return await job.future

    async def _next_batch(self) -> List[Job]:
        first = self.held or await self.queue.get()
        self.held = None
        jobs, count = [first], len(first.items)
        deadline = asyncio.get_running_loop().time() + self.wait
        while count < self.max_items:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                job = self.queue.get_nowait() if remaining <= 0 else await asyncio.wait_for(self.queue.get(), remaining)
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            if job.key != first.key or count + len(job.items) > self.max_items:
                self.held = job  # it starts the next batch
                break
            jobs.append(job)
            count += len(job.items)
        return [job for job in jobs if not job.future.done()]  # a timed-out request's client is gone

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._next_batch()
            if not jobs:
                continue
            items = [item for job in jobs for item in job.items]
            try:
                results = await loop.run_in_executor(self.executor, self.run, jobs[0].key, items)
                self.batches += 1
            except Exception as problem:  # noqa: BLE001 (one request's fault must not fail the others)
                if len(jobs) == 1:
                    if not jobs[0].future.done():
                        jobs[0].future.set_exception(problem)
                else:  # which one? each runs alone, and only the faulty ones fail
                    for job in jobs:
                        await self._alone(job)
                continue
            start = 0
            for job in jobs:
                if not job.future.done():
                    job.future.set_result(results[start:start + len(job.items)])
                start += len(job.items)

    async def _alone(self, job: Job) -> None:
        try:
            result = await asyncio.get_running_loop().run_in_executor(self.executor, self.run, job.key, job.items)
            self.batches += 1
        except Exception as problem:  # noqa: BLE001 (handed to the request, which answers for it)
            if not job.future.done():
                job.future.set_exception(problem)
            return
        if not job.future.done():
            job.future.set_result(result)

    def close(self) -> None:
        self.worker.cancel()
        self.executor.shutdown(wait=False, cancel_futures=True)
