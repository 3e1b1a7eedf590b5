"""Helpers of the face tests (a plain module: conftest files cannot be imported by name)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vedit.faces import FaceObservation
from vedit.faces.tracker import TrackerStats

MEDIA = Path(__file__).resolve().parents[2].parent / "shared" / "media"


def media_path(name: str) -> Path:
    """A real clip, or skip the test with the reason."""
    path = MEDIA / name
    if not path.exists():
        pytest.skip(f"real clip {name} not found at {MEDIA} (../shared/media is absent)")
    return path


def read_frames(name: str, limit: int | None = None) -> tuple[list[np.ndarray], float]:
    """First ``limit`` frames of a real clip as (H, W, 3) uint8 RGB, and its frame rate."""
    from vedit.io import open_video

    with open_video(media_path(name)) as reader:
        frames = [f.rgb() for f in itertools.islice(reader, limit)]
        return frames, float(reader.info.fps)


@dataclass(frozen=True)
class Tracked:
    """A clip's tracking result."""

    faces: list[list[FaceObservation]]
    stats: TrackerStats
    width: int
    height: int

    def by_id(self) -> dict[int, dict[int, FaceObservation]]:
        out: dict[int, dict[int, FaceObservation]] = {}
        for i, faces in enumerate(self.faces):
            for ob in faces:
                out.setdefault(ob.track_id, {})[i] = ob
        return out


def paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> np.ndarray:
    """Copy of canvas with patch at top-left (x, y), clipped at the borders."""
    out = canvas.copy()
    h, w = patch.shape[:2]
    H, W = out.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = patch[y0 - y:y1 - y, x0 - x:x1 - x]
    return out
