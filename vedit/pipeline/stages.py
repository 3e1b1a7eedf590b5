"""Pipeline stages in threads, so decoding, tracking, the engine and encoding overlap.

FFmpeg's codecs, OpenCV, NumPy, torch and MediaPipe release the GIL in their heavy loops, so a
thread per stage keeps the cores (or a GPU and the CPU) busy at once. Every stage still handles
its items in order, one at a time, so the result is the same as running the stages one after
another. Queues are bounded: memory stays flat however long the shot.

`threaded=False` runs a stage inline in the caller's thread instead: for a render-farm worker
that owns one core, where more threads only contend (other workers use the other cores).
"""
from __future__ import annotations

import abc
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

_DONE = object()
_POLL_S = 0.1


class StageError(RuntimeError):
    """Raised in a stage thread when the pipeline is being torn down (never reaches users)."""


class _Stage(abc.ABC):
    """A thread, a bounded queue and a stop flag, with the thread's error kept for re-raise."""

    def __init__(self, depth: int, name: str, threaded: bool = True) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._threaded = threaded
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _start(self) -> None:
        if self._threaded:
            self._thread.start()

    @abc.abstractmethod
    def _run(self) -> None:
        """The thread's body: produce into or consume from the queue until done or stopped."""

    def _offer(self, item: object) -> bool:
        """Queue an item, waiting for room; False when the pipeline is stopping."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _take(self) -> object:
        """Next item; _DONE when the pipeline is stopping."""
        while not self._stop.is_set():
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
        return _DONE

    def _stop_and_join(self) -> None:
        self._stop.set()
        if self._threaded:
            self._thread.join()


class Prefetch(_Stage, Generic[T]):
    """Iterate `items` in a background thread, up to `depth` items ahead of the consumer.

    Use as a context manager and iterate it; an error raised while producing is re-raised in
    the consumer at the point where the item would have come.
    """

    def __init__(self, items: Iterable[T], depth: int = 4, name: str = "vedit-prefetch",
                 threaded: bool = True) -> None:
        super().__init__(depth, name, threaded)
        self._items = items

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._offer(item):
                    return
        except BaseException as exc:  # handed to the consumer
            self._error = exc
        self._offer(_DONE)

    def __iter__(self) -> Iterator[T]:
        if not self._threaded:
            yield from self._items
            return
        while True:
            item = self._take()
            if item is _DONE:
                if self._error is not None:
                    raise self._error
                return
            yield item  # type: ignore[misc]

    def __enter__(self) -> Prefetch[T]:
        self._start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop_and_join()


class Sink(_Stage, Generic[T]):
    """Hand items to `consume` in a background thread, in order, up to `depth` waiting.

    `put` re-raises the consumer's error as soon as it is known; leaving the `with` block
    without an error waits until every item is consumed (and re-raises a late error). Leaving
    it with an error stops the consumer and drops what is still queued.
    """

    def __init__(self, consume: Callable[[T], None], depth: int = 4,
                 name: str = "vedit-sink", threaded: bool = True) -> None:
        super().__init__(depth, name, threaded)
        self._consume = consume

    def _run(self) -> None:
        while True:
            item = self._take()
            if item is _DONE:
                return
            try:
                self._consume(item)  # type: ignore[arg-type]
            except BaseException as exc:
                self._error = exc
                self._stop.set()
                return

    def put(self, item: T) -> None:
        if not self._threaded:
            self._consume(item)
            return
        if not self._offer(item) or self._error is not None:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error
        raise StageError("the output stage stopped")

    def __enter__(self) -> Sink[T]:
        self._start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._threaded:
            return
        if exc_type is not None:
            self._stop_and_join()
            return
        self._offer(_DONE)
        self._thread.join()
        if self._error is not None:
            raise self._error
