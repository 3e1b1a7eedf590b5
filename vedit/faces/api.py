"""Entry points: track a stream of frames, a video file, or a whole shot.

One tracker per video, closed when the stream ends (or is abandoned), so MediaPipe graphs are
never leaked and the "no face found" warning is given once per video.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from vedit.faces.config import TrackerConfig
from vedit.faces.shot import ShotTracks
from vedit.faces.tracker import create_tracker
from vedit.faces.types import FaceObservation

if TYPE_CHECKING:
    from vedit.io import VideoReader

Progress = Callable[[int, "int | None"], None]
"""Called after each frame with (frames done, total frames or None when unknown)."""


def track_frames(frames: Iterable[np.ndarray], config: TrackerConfig | None = None,
                 fps: float | Fraction = 30) -> Iterator[list[FaceObservation]]:
    """Track faces through frames given in order (streaming).

    Args:
        frames: (H, W, 3) uint8 RGB upright frames of one shot.
        config: tracker settings (defaults when None).
        fps: frame rate, for the crop smoothing (Hz-based).

    Yields:
        Per frame, the visible faces sorted by track id (empty list when none).
    """
    with create_tracker(config, float(fps)) as tracker:
        for rgb in frames:
            yield tracker.update(rgb)


def track_video(path: str | os.PathLike, config: TrackerConfig | None = None,
                progress: Progress | None = None) -> Iterator[list[FaceObservation]]:
    """Track faces through a video file, decoding one frame at a time.

    Args:
        path: video file.
        config: tracker settings.
        progress: optional callback, see ``Progress``.

    Yields:
        Per frame, the visible faces sorted by track id.

    Raises:
        vedit.errors.InputError: the file is missing, unreadable or corrupt.
    """
    from vedit.io import open_video

    with open_video(path) as reader:
        yield from _track_reader(reader, config, progress)


def track_shot(path: str | os.PathLike, config: TrackerConfig | None = None,
               progress: Progress | None = None) -> ShotTracks:
    """Track a whole video and collect per-identity arrays (what ``vedit track`` saves).

    Raises:
        vedit.errors.InputError: the file is missing, unreadable or corrupt.
    """
    from vedit.io import open_video

    with open_video(path) as reader:
        info = reader.info
        return ShotTracks.from_observations(_track_reader(reader, config, progress),
                                            info.width, info.height, info.fps, str(path))


def _track_reader(reader: VideoReader, config: TrackerConfig | None,
                  progress: Progress | None) -> Iterator[list[FaceObservation]]:
    total = reader.info.frame_count
    frames = (frame.rgb() for frame in reader)
    for n, faces in enumerate(track_frames(frames, config, reader.info.fps), 1):
        yield faces
        if progress is not None:
            progress(n, total)
