"""What the face layer hands to the rest of vedit: plain arrays, no mediapipe types.

Coordinates are full-frame pixels of the upright picture, x right, y down; z is MediaPipe's
depth rescaled to pixels (same scale as x), smaller = closer to the camera.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_LANDMARKS = 478


@dataclass(frozen=True)
class CropTransform:
    """LivePortrait-style square crop of one face.

    Attributes:
        size: side of the crop in pixels (512 for paste-back, networks take it resized to 256).
        frame_to_crop: (2, 3) float64 affine, frame pixel -> crop pixel.
        crop_to_frame: (2, 3) float64 affine, crop pixel -> frame pixel (its inverse).
    """

    size: int
    frame_to_crop: np.ndarray
    crop_to_frame: np.ndarray

    def __post_init__(self) -> None:
        if self.frame_to_crop.shape != (2, 3) or self.crop_to_frame.shape != (2, 3):
            raise ValueError("crop affines must be (2, 3)")


@dataclass(frozen=True)
class FaceObservation:
    """One tracked face in one frame.

    Attributes:
        track_id: stable identity of the person within the shot (0, 1, ... in order of appearance).
        box: (4,) float32 x0, y0, x1, y1 of the landmark extent, frame pixels.
        landmarks: (478, 3) float32 MediaPipe face-mesh landmarks (refine_landmarks, irises
            468-477), frame pixels; z in pixels. Raw, never smoothed; points may lie outside
            the frame when the face is partly out of the picture.
        crop: the smoothed crop window of this track at this frame (convention in
            ``vedit.faces.config.CropConfig``).
        confidence: detector/mesh confidence in [0, 1] (score of the last full-frame detection
            that confirmed this face; frames in between carry it over).
        detected: True where full detection ran this frame and found this face, False where
            it was tracked from the previous landmarks.
    """

    track_id: int
    box: np.ndarray
    landmarks: np.ndarray
    crop: CropTransform
    confidence: float = 1.0
    detected: bool = False
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.landmarks.shape != (N_LANDMARKS, 3):
            raise ValueError(f"landmarks must be ({N_LANDMARKS}, 3), got {self.landmarks.shape}")
