"""Terminal progress for a batch: one overall bar and one bar per shot (rich), fed frame by frame.

Workers report each step's frames as Dask events (vedit.batch.tasks._Reporter); the client
turns them into bar positions here. Events arrive on the client's event-loop thread, so the
bookkeeping is under a lock (rich's own Progress is thread-safe).
"""
from __future__ import annotations

import threading
from typing import Any


class NullProgress:
    """No display (tests, --quiet); the same methods as BatchProgress."""

    def __enter__(self) -> NullProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_shot(self, shot_id: str, name: str, total: int, done: int = 0) -> None: ...

    def step_frames(self, shot_id: str, step: str, done: int) -> None: ...

    def step_done(self, shot_id: str, step: str, frames: int) -> None: ...

    def shot_state(self, shot_id: str, state: str) -> None: ...

    def event(self, event: Any) -> None: ...

    def print(self, *args: Any, **kwargs: Any) -> None: ...


class BatchProgress(NullProgress):
    """Rich progress bars: "batch" (all frames of all shots), then one per shot."""

    def __init__(self, console=None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("frames"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=console, transient=False)
        self._lock = threading.Lock()
        self._overall = self._progress.add_task("[bold]batch", total=0)
        self._tasks: dict[str, Any] = {}
        self._names: dict[str, str] = {}
        self._steps: dict[str, dict[str, int]] = {}
        self._base: dict[str, int] = {}
        self._drivings: dict[str, Any] = {}

    def __enter__(self) -> BatchProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def print(self, *args: Any, **kwargs: Any) -> None:
        self._progress.console.print(*args, **kwargs)

    def add_shot(self, shot_id: str, name: str, total: int, done: int = 0) -> None:
        with self._lock:
            self._names[shot_id] = name
            self._base[shot_id] = done
            self._steps[shot_id] = {}
            self._tasks[shot_id] = self._progress.add_task(f"  {name}", total=total,
                                                           completed=done)
            overall = self._progress.tasks[self._overall]
            self._progress.update(self._overall, total=(overall.total or 0) + total,
                                  completed=overall.completed + done)

    def step_frames(self, shot_id: str, step: str, done: int) -> None:
        with self._lock:
            if shot_id not in self._tasks:
                return
            steps = self._steps[shot_id]
            delta = done - steps.get(step, 0)
            if delta <= 0:
                return
            steps[step] = done
            self._progress.advance(self._tasks[shot_id], delta)
            self._progress.advance(self._overall, delta)

    def step_done(self, shot_id: str, step: str, frames: int) -> None:
        self.step_frames(shot_id, step, frames)

    def shot_state(self, shot_id: str, state: str) -> None:
        with self._lock:
            if shot_id in self._tasks:
                colour = {"done": "green", "failed": "red"}.get(state, "yellow")
                self._progress.update(self._tasks[shot_id], description=(
                    f"  {self._names[shot_id]} [{colour}]{state}[/]"))

    def event(self, event: Any) -> None:
        """A Dask event (timestamp, message) from a worker's step."""
        msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
        if not isinstance(msg, dict):
            return
        if msg.get("stage") == "render":
            self.step_frames(str(msg.get("shot")), str(msg.get("step")), int(msg["done"]))
        elif msg.get("step") == "drivings":
            self._driving_frames(str(msg.get("shot")), int(msg["done"]), msg.get("total"))

    def _driving_frames(self, driving: str, done: int, total: int | None) -> None:
        """A driving being analysed (a step shared by the shots that use it): its own bar,
        outside the batch's frame count."""
        with self._lock:
            if driving not in self._drivings:
                name = driving.rsplit("/", 1)[-1]
                self._drivings[driving] = self._progress.add_task(
                    f"  [dim]analysing {name}[/]", total=total or 0)
            self._progress.update(self._drivings[driving], completed=done,
                                  total=max(total or 0, done))
