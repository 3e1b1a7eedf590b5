"""Portrait-video-editing motion composition: LivePortrait appendix E, Eq. 8.

For source frame i and the driving frame laid onto it (see timeline.py), the target keypoints are

    x_d,i = s_s,i * (s_d,i / s_d,0) * ( x_c,s,i @ (R_d,i R_d,0^-1 R_s,i)
                                        + delta_s,i + (delta~_d,i - delta_d,0) )
            + (t_s,i + t_d,i - t_d,0),            with t_z dropped,

where delta~_d,i is the smoothed driving expression (the paper uses 0.5 (delta_d,i +
delta_d,i+1); smoothing.py applies it, so here `driving` is already smoothed). Everything the
driving contributes is *relative* to its reference frame 0: the source actor keeps their own
head pose, face size and resting expression, and only the driving's changes are added. That is
why frame 0 of a driving whose reference is itself returns the source untouched.

The rotation is composed as R_d,i @ R_d,0^T @ R_s,i (row vectors, x_c @ R): the driving's
relative rotation is applied in the source's canonical frame before the source's own pose, as
in the official code. Other orders give different (wrong) heads for non-commuting rotations.

The user-facing options (region, scale damping, rotation limit, gain) change which of these
relative terms are applied and how strongly; with the defaults the formula above is exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vedit.motion.rotation import clamp_rotation_angle
from vedit.motion.track import MotionTrack
from vedit.motion.types import KeypointMotion

__all__ = [
    "REGIONS",
    "MotionOptions",
    "compose",
    "compose_motion",
    "compose_track",
    "compose_track_motion",
]

# Same names and order as vedit.engines.base.REGIONS (a test checks they agree); duplicated so
# the motion math does not import the engine layer.
REGIONS = ("all", "exp", "pose", "lip", "eyes")
_POSE_REGIONS = ("all", "pose")
_MASKED_REGIONS = ("lip", "eyes")


@dataclass(frozen=True)
class MotionOptions:
    """What of the driving performance reaches the source face, and how strongly.

    Attributes:
        region: "all" (rotation, expression, scale, translation), "exp" (expression only,
            pose from the source), "pose" (rotation, scale, translation only; the expression
            stays the source's), "lip" / "eyes" (only the `expression_mask` entries of the
            expression change; pose from the source).
        expression_mask: (K, 3) bool, the expression entries the region moves, chosen by the
            engine (only it knows which keypoints are lips or eyes). Required for "lip" and
            "eyes"; for "all"/"exp" None means every entry; ignored for "pose".
        transfer_scale: apply the driving's relative scale s_d,i / s_d,0.
        scale_damping: exponent on that ratio, in [0, 1]: 0 keeps s_s (no transfer), 1 the full
            ratio. Users see head-size "pumping" when the driving actor leans in and out; a
            power (not a linear blend) damps growth and shrinkage symmetrically.
        transfer_translation: apply t_d,i - t_d,0.
        transfer_rotation: apply R_d,i R_d,0^-1.
        rotation_limit_deg: bound on the angle of the transferred relative rotation
            R_d,i R_d,0^-1 (its axis kept), or None. Large driving head turns tear the source's
            background; a bound keeps them plausible.
        expression_gain: multiplies the expression change delta~_d,i - delta_d,0 (1 = Eq. 8).
    """

    region: str = "all"
    expression_mask: np.ndarray | None = None
    transfer_scale: bool = True
    scale_damping: float = 1.0
    transfer_translation: bool = True
    transfer_rotation: bool = True
    rotation_limit_deg: float | None = None
    expression_gain: float = 1.0

    def __post_init__(self) -> None:
        if self.region not in REGIONS:
            raise ValueError(f"region must be one of {REGIONS}, got {self.region!r}")
        if self.expression_mask is not None:
            mask = np.asarray(self.expression_mask)
            if mask.dtype != np.bool_ or mask.ndim != 2 or mask.shape[1] != 3:
                raise ValueError(
                    f"expression_mask must be (K, 3) bool, got {mask.shape} {mask.dtype}"
                )
            object.__setattr__(self, "expression_mask", mask)
        elif self.region in _MASKED_REGIONS:
            raise ValueError(f"region {self.region!r} needs the engine's expression_mask")
        if not 0.0 <= self.scale_damping <= 1.0:
            raise ValueError(f"scale_damping must be in [0, 1], got {self.scale_damping}")
        if self.rotation_limit_deg is not None and not self.rotation_limit_deg >= 0:
            raise ValueError(f"rotation_limit_deg must be >= 0, got {self.rotation_limit_deg}")
        if not math.isfinite(self.expression_gain):
            raise ValueError(f"expression_gain must be finite, got {self.expression_gain}")

    @property
    def moves_pose(self) -> bool:
        """Whether the region transfers rotation / scale / translation at all."""
        return self.region in _POSE_REGIONS

    @property
    def moves_expression(self) -> bool:
        """Whether the region transfers any expression."""
        return self.region != "pose"


def compose_motion(
    source: KeypointMotion,
    driving: KeypointMotion,
    driving_ref: KeypointMotion,
    options: MotionOptions | None = None,
) -> KeypointMotion:
    """The target motion of one frame by Eq. 8 (before dropping t_z).

    Engines that stitch or retarget need the composed parts, not just keypoints; `compose`
    is this followed by `.keypoints()`.

    Args:
        source: source frame i's motion (its canonical keypoints are kept).
        driving: driving frame laid onto source frame i, already smoothed.
        driving_ref: the driving reference frame ("frame 0", see smoothing.driving_reference).
        options: what to transfer; defaults to plain Eq. 8.

    Returns:
        A new `KeypointMotion` with the source's canonical keypoints.
    """
    track = compose_track_motion(
        MotionTrack.from_motions([source]),
        MotionTrack.from_motions([driving]),
        driving_ref,
        options,
    )
    return track.frame(0)


def compose(
    source: KeypointMotion,
    driving: KeypointMotion,
    driving_ref: KeypointMotion,
    options: MotionOptions | None = None,
) -> np.ndarray:
    """Target keypoints of one frame by Eq. 8.

    Args:
        source: source frame i's motion.
        driving: driving frame laid onto source frame i, already smoothed.
        driving_ref: the driving reference frame.
        options: what to transfer; defaults to plain Eq. 8.

    Returns:
        (K, 3) float64 keypoints, t_z dropped. Equal, bit for bit, to `source.keypoints()`
        when `driving` is `driving_ref` (any options).
    """
    return compose_motion(source, driving, driving_ref, options).keypoints()


def compose_track(
    source: MotionTrack | KeypointMotion,
    driving: MotionTrack,
    driving_ref: KeypointMotion,
    options: MotionOptions | None = None,
) -> np.ndarray:
    """Target keypoints of a whole shot by Eq. 8, vectorised over frames.

    Args:
        source: the source track (T frames), or one motion for a still source image.
        driving: T driving frames already laid onto the source timeline and smoothed.
        driving_ref: the driving reference frame.
        options: what to transfer.

    Returns:
        (T, K, 3) float64 keypoints, t_z dropped.
    """
    return compose_track_motion(source, driving, driving_ref, options).keypoints()


def compose_track_motion(
    source: MotionTrack | KeypointMotion,
    driving: MotionTrack,
    driving_ref: KeypointMotion,
    options: MotionOptions | None = None,
) -> MotionTrack:
    """Eq. 8 over a whole shot, returning the composed motion (see `compose_track`).

    Raises:
        ValueError: when lengths or keypoint counts disagree.
    """
    options = options or MotionOptions()
    if isinstance(source, KeypointMotion):
        source = MotionTrack.repeat(source, len(driving))
    if len(source) != len(driving):
        raise ValueError(f"source has {len(source)} frames but driving has {len(driving)}")
    k = source.num_keypoints
    if driving.num_keypoints != k or driving_ref.expression.shape != (k, 3):
        raise ValueError("source, driving and reference must have the same keypoint count")
    mask = options.expression_mask
    if mask is not None and mask.shape != (k, 3) and options.moves_expression:
        raise ValueError(f"expression_mask is {mask.shape}, keypoints are ({k}, 3)")

    rotation, scale, translation = source.rotation, source.scale, source.translation
    if options.moves_pose:
        if options.transfer_rotation:
            relative = _relative_rotation(driving.rotation, driving_ref.rotation, options)
            rotation = relative @ rotation
        if options.transfer_scale and options.scale_damping > 0:
            ratio = driving.scale / float(driving_ref.scale)
            if options.scale_damping != 1.0:
                ratio = ratio**options.scale_damping
            scale = scale * ratio
        if options.transfer_translation:
            translation = translation + (driving.translation - driving_ref.translation)

    expression = source.expression
    if options.moves_expression:
        change = driving.expression - driving_ref.expression
        if options.expression_gain != 1.0:
            change = options.expression_gain * change
        moved = expression + change
        expression = moved if mask is None else np.where(mask, moved, expression)

    return MotionTrack(
        canonical=source.canonical,
        rotation=rotation,
        expression=expression,
        scale=scale,
        translation=translation,
    )


def _relative_rotation(
    rotation: np.ndarray, reference: np.ndarray, options: MotionOptions
) -> np.ndarray:
    """(T, 3, 3) R_d,i @ R_d,0^T, exactly identity where R_d,i equals the reference.

    R @ R^T is only identity up to rounding; frames equal to the reference are set to the exact
    identity so that they reproduce the source bit for bit.
    """
    relative = rotation @ reference.T
    same = np.all(rotation == reference, axis=(1, 2))
    relative[same] = np.eye(3)
    if options.rotation_limit_deg is not None:
        relative = clamp_rotation_angle(relative, math.radians(options.rotation_limit_deg))
    return relative
