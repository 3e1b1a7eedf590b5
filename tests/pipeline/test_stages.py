"""Stage threads: order kept, errors surface where the item would have, queues stay bounded."""
from __future__ import annotations

import threading
import time

import pytest

from vedit.pipeline.stages import Prefetch, Sink


def test_prefetch_keeps_order_and_runs_in_another_thread():
    producers = set()

    def items():
        for i in range(50):
            producers.add(threading.current_thread().name)
            yield i

    with Prefetch(items(), depth=3, name="t-decode") as source:
        got = list(source)
    assert got == list(range(50))
    assert producers == {"t-decode"}


def test_prefetch_reraises_the_producers_error_after_the_good_items():
    def items():
        yield 1
        yield 2
        raise ValueError("corrupt frame 2")

    got = []
    with pytest.raises(ValueError, match="corrupt frame 2"), Prefetch(items(), 2) as source:
        for item in source:
            got.append(item)
    assert got == [1, 2]


def test_prefetch_stays_bounded_and_stops_when_the_consumer_leaves():
    made = []

    def items():
        for i in range(10_000):
            made.append(i)
            yield i

    with Prefetch(items(), depth=4) as source:
        for item in source:
            if item == 5:
                break
        time.sleep(0.3)  # a runaway producer would make thousands meanwhile
        assert len(made) <= 5 + 1 + 4 + 1
    stopped_at = len(made)
    time.sleep(0.2)
    assert len(made) == stopped_at


def test_sink_consumes_in_order_in_another_thread():
    seen, threads = [], set()

    def consume(item):
        threads.add(threading.current_thread().name)
        time.sleep(0.001)
        seen.append(item)

    with Sink(consume, depth=2, name="t-encode") as sink:
        for i in range(40):
            sink.put(i)
    assert seen == list(range(40))
    assert threads == {"t-encode"}


def test_sink_error_reaches_the_producer_and_stops_the_work():
    seen = []

    def consume(item):
        if item == 3:
            raise OSError("disk full")
        seen.append(item)

    with pytest.raises(OSError, match="disk full"), Sink(consume, depth=2) as sink:
        for i in range(1000):
            sink.put(i)
    assert seen == [0, 1, 2]


def test_sink_drops_queued_items_when_the_producer_fails():
    seen = []
    gate = threading.Event()

    def consume(item):
        gate.wait(5)
        seen.append(item)

    with pytest.raises(RuntimeError, match="engine failed"), Sink(consume, depth=8) as sink:
        for i in range(5):
            sink.put(i)
        gate.set()
        raise RuntimeError("engine failed")
    assert len(seen) <= 5
    assert seen == list(range(len(seen)))


def test_inline_stages_run_in_the_callers_thread_with_the_same_results():
    here = threading.current_thread().name
    seen, threads = [], set()

    def items():
        for i in range(10):
            threads.add(threading.current_thread().name)
            yield i

    def consume(item):
        threads.add(threading.current_thread().name)
        seen.append(item)

    with Prefetch(items(), threaded=False) as source, Sink(consume, threaded=False) as sink:
        for item in source:
            sink.put(item * 2)
    assert seen == [2 * i for i in range(10)]
    assert threads == {here}
