"""The micro-batcher on its own: requests that arrive together share one call, a request of other
settings waits for the next, a full queue refuses at once, and one request's failure is its own."""

import asyncio
import threading

import pytest

from rnnkit.serve.batcher import Batcher, QueueFull


def run_in_loop(coroutine):
    return asyncio.run(coroutine)


def test_requests_within_the_window_share_a_call_and_keys_do_not_mix():
    calls = []

    def run(key, items):
        calls.append((key, list(items)))
        return [f"{key}:{item}" for item in items]

    async def scenario():
        batcher = Batcher(run, "toy", max_items=8, wait=0.05, queue_size=16)
        answers = await asyncio.gather(batcher.submit(["a", "b"]), batcher.submit(["c"]), batcher.submit(["d"], "beam"),
                                       batcher.submit(["e"]))
        batcher.close()
        return answers

    answers = run_in_loop(scenario())
    assert answers == [["None:a", "None:b"], ["None:c"], ["beam:d"], ["None:e"]]
    assert calls[0] == (None, ["a", "b", "c"])  # "e" came after the other key: it starts a later batch
    assert (("beam", ["d"]) in calls) and len(calls) == 3


def test_a_batch_holds_at_most_max_items():
    sizes = []

    def run(key, items):
        sizes.append(len(items))
        return items

    async def scenario():
        batcher = Batcher(run, "toy", max_items=4, wait=0.05, queue_size=16)
        await asyncio.gather(*[batcher.submit([i, i]) for i in range(5)])
        batcher.close()

    run_in_loop(scenario())
    assert sizes and max(sizes) <= 4 and sum(sizes) == 10


def test_a_full_queue_refuses_at_once():
    release = threading.Event()

    def run(key, items):
        release.wait(10)
        return items

    async def scenario():
        batcher = Batcher(run, "toy", max_items=1, wait=0.0, queue_size=1)
        first = asyncio.ensure_future(batcher.submit([1]))
        await asyncio.sleep(0.05)  # the worker has taken it and is busy
        second = asyncio.ensure_future(batcher.submit([2]))  # waits in the queue
        await asyncio.sleep(0.01)
        with pytest.raises(QueueFull, match="model 'toy' has 1 requests waiting"):
            await batcher.submit([3])
        release.set()
        answers = await asyncio.gather(first, second)
        batcher.close()
        return answers

    assert run_in_loop(scenario()) == [[1], [2]]


def test_one_request_s_failure_does_not_fail_the_others_in_its_batch():
    def run(key, items):
        if "bad" in items:
            raise ValueError("cannot read 'bad'")
        return [item.upper() for item in items]

    async def scenario():
        batcher = Batcher(run, "toy", max_items=8, wait=0.05, queue_size=16)
        answers = await asyncio.gather(batcher.submit(["ok"]), batcher.submit(["bad"]), batcher.submit(["fine"]),
                                       return_exceptions=True)
        batcher.close()
        return answers

    good, bad, fine = run_in_loop(scenario())
    assert good == ["OK"] and fine == ["FINE"] and isinstance(bad, ValueError)
