"""Fixtures of the face tests: real clips read through vedit.io, tracked once per session."""
from __future__ import annotations

from collections.abc import Callable

import pytest
from faces.faces_support import Tracked, read_frames

from vedit.faces import TrackerConfig, create_tracker


@pytest.fixture(scope="session")
def tracked_clip() -> Callable[[str, int | None], Tracked]:
    """Track a real clip with default settings, once per session per (clip, limit)."""
    cache: dict[tuple[str, int | None], Tracked] = {}

    def run(name: str, limit: int | None = None) -> Tracked:
        key = (name, limit)
        if key not in cache:
            frames, fps = read_frames(name, limit)
            with create_tracker(TrackerConfig(), fps) as tracker:
                faces = [tracker.update(f) for f in frames]
            h, w = frames[0].shape[:2]
            cache[key] = Tracked(faces, tracker.stats, w, h)
        return cache[key]

    return run
