"""Motion of faces: Eq. 8 composition, driving-track smoothing and timeline mapping.

Plain numpy, no I/O. The usual flow for one face of one shot:

    smoothed = smooth_track(driving_motions, SmoothingOptions("paper"), fps=driving_fps)
    ref = smoothed.raw.frame(driving_reference(smoothed, "first"))
    dmap = map_driving(len(source), source_fps, len(smoothed), driving_fps, fit="hold")
    laid = smoothed.track.take(dmap.indices)
    targets = compose_track(source.take(slice(0, dmap.output_count)), laid, ref, options)

Missing driving faces are held and smoothing runs on the driving's own timeline (Eq. 8's
look-ahead is the next *driving* frame); only the smoothed track is laid onto the source
timeline. The reference comes from the unsmoothed track, as Eq. 8's delta_d,0 does.

A driving spliced from several takes passes its cuts (cuts.py: `CutDetector` over its frames)
to `smooth_track(..., cuts=...)`: each take's pose then continues from the previous take's end
and no smoothing crosses a cut.
"""
from vedit.motion.cuts import (
    CUT_MODES,
    CutDetector,
    find_cuts,
    join_takes,
    picture_change,
    picture_signature,
    take_bounds,
)
from vedit.motion.eq8 import (
    REGIONS,
    MotionOptions,
    compose,
    compose_motion,
    compose_track,
    compose_track_motion,
)
from vedit.motion.reference import REFERENCE_MODES, driving_reference, neutral_frame
from vedit.motion.smoothing import (
    SMOOTHING_METHODS,
    NoDrivingFaceError,
    SmoothedTrack,
    SmoothingOptions,
    hold_missing,
    kalman_smooth,
    one_euro,
    paper_lookahead,
    smooth_track,
)
from vedit.motion.timeline import FIT_MODES, DrivingMap, map_driving, still_source_timeline
from vedit.motion.track import MotionTrack
from vedit.motion.types import KeypointMotion

__all__ = [
    "CUT_MODES",
    "FIT_MODES",
    "REFERENCE_MODES",
    "REGIONS",
    "SMOOTHING_METHODS",
    "CutDetector",
    "DrivingMap",
    "KeypointMotion",
    "MotionOptions",
    "MotionTrack",
    "NoDrivingFaceError",
    "SmoothedTrack",
    "SmoothingOptions",
    "compose",
    "compose_motion",
    "compose_track",
    "compose_track_motion",
    "driving_reference",
    "find_cuts",
    "hold_missing",
    "join_takes",
    "kalman_smooth",
    "map_driving",
    "neutral_frame",
    "one_euro",
    "paper_lookahead",
    "picture_change",
    "picture_signature",
    "smooth_track",
    "still_source_timeline",
    "take_bounds",
]
