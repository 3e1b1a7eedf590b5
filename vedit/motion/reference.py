"""Which driving frame plays "frame 0" in Eq. 8 (the reference the driving is relative to).

Eq. 8 transfers the driving's *changes* from its reference frame. The paper uses the first
frame; that only works when the driving actor starts with a neutral face matching the source's.
Users of the official tool ask to choose the frame themselves, or to let the tool find a
neutral one, so three modes exist:

    "first": frame 0, or the first frame with a face.
    an int i: frame i, chosen by the user (it must have a face).
    "neutral": an estimate of the least expressive frame (see `neutral_frame`).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vedit.motion.smoothing import NoDrivingFaceError, SmoothedTrack
from vedit.motion.track import MotionTrack
from vedit.motion.types import KeypointMotion

__all__ = ["REFERENCE_MODES", "driving_reference", "neutral_frame"]

REFERENCE_MODES = ("first", "neutral")

# A mouth counts as closed when its opening is in the lowest quarter of the track's range of
# openings (5th to 95th percentile, so one bad landmark frame does not set the range).
_CLOSED_MOUTH_FRACTION = 0.25
_OPENING_PERCENTILES = (5, 95)


def driving_reference(
    track: Sequence[KeypointMotion | None] | MotionTrack | SmoothedTrack,
    mode: str | int = "first",
    lip_mask: np.ndarray | None = None,
) -> int:
    """Index of the driving reference frame.

    Take the reference motion from the *unsmoothed* track (`SmoothedTrack.raw`): Eq. 8's
    delta_d,0 is a raw observation, only delta_d,i is smoothed.

    Args:
        track: the driving track on its own timeline; None (or `SmoothedTrack.held`) marks
            frames without a face, which are never chosen.
        mode: "first", "neutral", or a frame index >= 0.
        lip_mask: (K, 3) bool, the engine's lip expression entries; lets "neutral" prefer a
            closed mouth. Optional.

    Returns:
        A frame index with a face.

    Raises:
        NoDrivingFaceError: when no frame has a face.
        ValueError: for an unknown mode, or an index out of range or without a face.
    """
    motions, valid = _as_track(track)
    if isinstance(mode, bool) or not isinstance(mode, (str, int, np.integer)):
        raise ValueError(f"reference mode must be 'first', 'neutral' or an index, got {mode!r}")
    if isinstance(mode, (int, np.integer)):
        index = int(mode)
        if not 0 <= index < len(valid):
            raise ValueError(
                f"reference frame {index} is outside the driving (0..{len(valid) - 1})"
            )
        if not valid[index]:
            raise ValueError(f"reference frame {index} has no driving face")
        return index
    if mode == "first":
        return int(np.argmax(valid))
    if mode == "neutral":
        return neutral_frame(motions, valid, lip_mask)
    raise ValueError(f"reference mode must be one of {REFERENCE_MODES} or an index, got {mode!r}")


def neutral_frame(
    track: MotionTrack, valid: np.ndarray | None = None, lip_mask: np.ndarray | None = None
) -> int:
    """Estimate of the driving's most neutral frame, engine-agnostic.

    A performance spends most of its time near its resting face, so the per-entry median of the
    expression over the track approximates that resting face, and the frame whose expression
    is closest to it (sum of squared differences) is the least expressive one. Talking
    performances rest with the mouth half-open on average, so when the engine names its lip
    entries the choice is limited to closed-mouth frames: those whose opening lies in the
    lowest quarter of the track's opening range (5th to 95th percentile).
    The mouth opening is the vertical (y) extent of the lip keypoints of x_c + delta, i.e. the
    unposed face, so it does not depend on head pose and needs no engine-specific indices.

    Args:
        track: T frames of driving motion.
        valid: (T,) bool, frames that may be chosen; default all.
        lip_mask: (K, 3) bool lip expression entries (a keypoint is a lip keypoint when any of
            its three entries is set), or None for no mouth preference.

    Returns:
        The chosen frame index; ties go to the earliest frame.
    """
    valid = np.ones(len(track), dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if not valid.any():
        raise NoDrivingFaceError("no face was found in any driving frame")
    candidates = np.flatnonzero(valid)
    expression = track.expression[candidates]
    median = np.median(expression, axis=0)
    distance = np.sum((expression - median) ** 2, axis=(1, 2))
    if lip_mask is not None:
        lip_mask = np.asarray(lip_mask, dtype=bool)
        if lip_mask.shape != (track.num_keypoints, 3):
            raise ValueError(f"lip_mask must be ({track.num_keypoints}, 3), got {lip_mask.shape}")
        lips = lip_mask.any(axis=1)
        if lips.sum() >= 2:
            face = track.canonical[candidates] + expression
            lip_y = face[:, lips, 1]
            opening = lip_y.max(axis=1) - lip_y.min(axis=1)
            low, high = np.percentile(opening, _OPENING_PERCENTILES)
            closed = opening <= low + _CLOSED_MOUTH_FRACTION * (high - low)
            distance = np.where(closed, distance, np.inf)
    return int(candidates[int(np.argmin(distance))])


def _as_track(
    track: Sequence[KeypointMotion | None] | MotionTrack | SmoothedTrack,
) -> tuple[MotionTrack, np.ndarray]:
    """(filled track, (T,) bool frames with a face) of any accepted track form."""
    if isinstance(track, SmoothedTrack):
        return track.raw, ~track.held
    if isinstance(track, MotionTrack):
        return track, np.ones(len(track), dtype=bool)
    valid = np.array([m is not None for m in track], dtype=bool)
    if not valid.any():
        raise NoDrivingFaceError("no face was found in any driving frame")
    good = [m for m in track if m is not None]
    first = good[0]
    filled = [m if m is not None else first for m in track]
    return MotionTrack.from_motions(filled), valid
