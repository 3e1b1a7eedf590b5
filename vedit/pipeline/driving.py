"""A driving performance, analysed once: its main face's motion per frame, smoothed.

Only keypoints are kept (a few KB per frame), never pictures, so a long driving clip costs
little memory, and one analysis serves every face and shot it drives.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vedit.engines.base import Engine
from vedit.errors import InputError
from vedit.faces import ShotTracks, TrackerConfig, create_tracker, main_face
from vedit.io import open_video
from vedit.motion import (
    KeypointMotion,
    MotionTrack,
    NoDrivingFaceError,
    SmoothedTrack,
    SmoothingOptions,
    driving_reference,
    smooth_track,
)

log = logging.getLogger("vedit.pipeline")


@dataclass(frozen=True)
class DrivingPerformance:
    """The motion of a driving clip's main face.

    Attributes:
        path: the driving clip.
        fps: its frame rate; count: its frames.
        smoothed: held-and-smoothed motion on the driving's own timeline, plus the raw track.
        reference: the reference motion (Eq. 8's driving frame 0).
        reference_index: which driving frame that is.
        held: (count,) bool, frames without a face (their motion is held from the last good).
    """

    path: Path
    fps: Fraction
    count: int
    smoothed: SmoothedTrack
    reference: KeypointMotion
    reference_index: int
    held: np.ndarray

    @property
    def track(self) -> MotionTrack:
        return self.smoothed.track


def analyse_driving(path: Path, engine: Engine, *, smoothing: str = "paper",
                    reference: str | int = "first", lip_mask: np.ndarray | None = None,
                    tracker_options: dict | None = None,
                    progress=None) -> DrivingPerformance:
    """Track a driving clip, read its main face's motion per frame, and smooth it.

    Raises:
        InputError: the clip is unreadable or shows no face at all.
    """
    config = TrackerConfig(**(tracker_options or {}))
    per_frame: list[list] = []
    motions: dict[int, dict[int, KeypointMotion]] = {}
    batch_size = max(1, int(getattr(engine, "batch_size", 1)))
    pending: list[tuple[int, np.ndarray, object]] = []  # (frame index, rgb, face)

    def flush() -> None:
        if not pending:
            return
        found = engine.motion([rgb for _, rgb, _ in pending], [face for _, _, face in pending])
        for (index, _, face), motion in zip(pending, found, strict=True):
            motions.setdefault(face.track_id, {})[index] = motion
        pending.clear()

    with open_video(path) as reader, create_tracker(config, float(reader.info.fps)) as tracker:
        fps = reader.info.fps
        for frame in reader:
            rgb = frame.rgb()
            faces = tracker.update(rgb)
            per_frame.append(faces)
            pending.extend((frame.index, rgb, face) for face in faces)
            if len(pending) >= batch_size:
                flush()
            if progress is not None:
                progress("driving", frame.index + 1, reader.info.frame_count)
        flush()
        width, height = reader.info.width, reader.info.height
    shot = ShotTracks.from_observations(per_frame, width, height, fps, str(path))
    main = main_face(shot)
    if main is None:
        raise InputError(path, "no face found in the driving clip")
    count = len(per_frame)
    series = [motions[main].get(i) for i in range(count)]
    try:
        smoothed = smooth_track(series, SmoothingOptions(smoothing), fps=fps)
    except NoDrivingFaceError:
        raise InputError(path, "no face found in the driving clip") from None
    try:
        ref_index = driving_reference(smoothed, reference, lip_mask=lip_mask)
    except ValueError as exc:
        raise InputError(path, f"bad driving reference: {exc}") from None
    held = np.asarray(smoothed.held, dtype=bool)
    if held.any():
        log.warning("%s: no face in %d of %d driving frames; the last good expression holds",
                    path, int(held.sum()), count)
    return DrivingPerformance(path=Path(path), fps=fps, count=count, smoothed=smoothed,
                              reference=smoothed.raw.frame(ref_index), reference_index=ref_index,
                              held=held)
