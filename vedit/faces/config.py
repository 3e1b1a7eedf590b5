"""Frozen settings of the face layer: the LivePortrait crop and the tracker.

Every number that changes what the tracker reports lives here, so a preset can name it and a
test can pin it. Units are stated per field; "frames" are frames of the shot being tracked.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vedit.errors import ConfigError


@dataclass(frozen=True)
class CropConfig:
    """LivePortrait-style crop window, and how it is smoothed over time.

    Convention (matches LivePortrait's ``crop_image`` with our landmarks):

    * *Roll* is the angle of the eye line (image-left eye corner centre -> image-right eye corner
      centre), radians, positive clockwise in the image (y points down). With ``rotate`` the crop
      is turned so that line is horizontal; without it the crop is axis-aligned.
    * *Extent* is the side of the smallest square, aligned with the eye line, that holds the
      face landmarks. ``extent="brows_to_chin"`` (default) ignores mesh points above the highest
      eyebrow point, so the box spans eyebrows to chin and ear to ear like the 106/203-point
      landmarks LivePortrait crops with; ``"mesh"`` uses all 478 points (forehead included,
      about 20 % bigger).
    * The crop side in frame pixels is ``scale * extent``; its centre is the extent box centre
      moved by ``vx * side`` along the eye line and ``vy * side`` along the face's downward
      axis (eye line turned 90 degrees clockwise). ``vy < 0`` moves the window up, towards the
      forehead, so the hair fits in.
    * The crop is resampled to ``size`` x ``size`` pixels (512 for paste-back; the networks
      take it resized to 256).

    Smoothing is a One-Euro filter per quantity (centre x/y in units of the crop side, log
    side, roll): ``min_cutoff`` (Hz) sets the smoothing when the face is still, ``beta`` how fast
    the cut-off rises with speed, so a fast pan is followed with little lag.

    Attributes:
        size: output side in pixels.
        scale: crop side / landmark extent.
        vx: horizontal shift, fraction of the crop side (positive towards image-right).
        vy: vertical shift, fraction of the crop side (negative = up).
        rotate: align the crop with the eye line (LivePortrait parity).
        extent: which landmarks define the extent, see above.
        smooth: smooth the window over time (landmarks are never smoothed).
        min_cutoff: One-Euro cut-off of a still face, Hz.
        beta: One-Euro speed coefficient, per (crop sides / s).
        d_cutoff: cut-off of the speed estimate, Hz.
        angle_min_cutoff: One-Euro cut-off of the roll for a still face, Hz.
    """

    size: int = 512
    scale: float = 2.3
    vx: float = 0.0
    vy: float = -0.125
    rotate: bool = True
    extent: Literal["brows_to_chin", "mesh"] = "brows_to_chin"
    smooth: bool = True
    min_cutoff: float = 0.4
    beta: float = 10.0
    d_cutoff: float = 2.0
    angle_min_cutoff: float = 0.4

    def __post_init__(self) -> None:
        if self.size < 16:
            raise ConfigError(None, f"crop size must be >= 16 pixels, got {self.size}")
        if self.scale <= 0:
            raise ConfigError(None, f"crop scale must be positive, got {self.scale}")
        if self.extent not in ("brows_to_chin", "mesh"):
            raise ConfigError(None, f"crop extent must be 'brows_to_chin' or 'mesh', "
                                    f"got {self.extent!r}")
        if min(self.min_cutoff, self.d_cutoff, self.angle_min_cutoff) <= 0 or self.beta < 0:
            raise ConfigError(None, "crop smoothing cut-offs must be > 0 and beta >= 0")


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are found and followed through a shot.

    Full-frame detection (both MediaPipe detectors, NMS-merged) runs every ``detect_every``
    frames, and on every ``search_every``-th frame while no face is tracked or a track is lost;
    in between each face is followed by running the mesh on a window around its previous
    landmarks, so the cost grows with the number of faces, not with the frame size.

    Attributes:
        backend: registered tracker name (see ``vedit.faces.TRACKERS``).
        detect_every: frames between routine full detections (finds newcomers), >= 1.
        search_every: frames between detections while searching (no face / a track lost).
        max_gap: frames a lost track waits to be re-identified before it is closed.
        detect_tiles: also run the small-face detector on two overlapping halves of the frame.
        min_face_px: faces whose detector box is smaller (pixels, longer side) are ignored.
        detection_confidence: minimum MediaPipe face-detector score.
        mesh_confidence: minimum score of the mesh's own face check on a crop.
        nms_iou: IoU above which two detections are the same face.
        roi_scale: side of the mesh window / longer side of the face box.
        mesh_input: side in pixels the mesh window is resampled to (small faces get upscaled).
        max_faces: most faces tracked at once.
        reid_max_distance: appearance distance (Bhattacharyya, 0 same .. 1 different) above
            which a returning face is a new person.
        blank_range: a frame whose grey levels span fewer levels than this is blank.
        crop: the crop window settings.
    """

    backend: str = "mediapipe"
    detect_every: int = 10
    search_every: int = 2
    max_gap: int = 45
    detect_tiles: bool = True
    min_face_px: int = 24
    detection_confidence: float = 0.5
    mesh_confidence: float = 0.5
    nms_iou: float = 0.3
    roi_scale: float = 1.8
    mesh_input: int = 256
    max_faces: int = 8
    reid_max_distance: float = 0.3
    blank_range: int = 12
    crop: CropConfig = field(default_factory=CropConfig)

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.search_every < 1:
            raise ConfigError(None, "detect_every and search_every must be >= 1")
        if self.max_gap < 0:
            raise ConfigError(None, f"max_gap must be >= 0 frames, got {self.max_gap}")
        if not 0.0 <= self.detection_confidence <= 1.0 or not 0.0 <= self.mesh_confidence <= 1.0:
            raise ConfigError(None, "confidences must be in [0, 1]")
        if self.roi_scale < 1.0 or self.mesh_input < 64:
            raise ConfigError(None, "roi_scale must be >= 1 and mesh_input >= 64 pixels")
        if self.max_faces < 1:
            raise ConfigError(None, f"max_faces must be >= 1, got {self.max_faces}")
