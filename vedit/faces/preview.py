"""Overlay video of a shot's face tracks, for an editor to check the tracking by eye.

Each frame keeps its source timestamp, so the overlay scrubs in step with the original in any
player or NLE; the frame number is burnt in to tell a tracking problem's frame exactly.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from vedit.faces.shot import ShotTracks
from vedit.faces.types import FaceObservation

_COLOURS = ((255, 80, 80), (80, 200, 255), (120, 255, 120), (255, 200, 60), (220, 120, 255),
            (255, 255, 255), (60, 255, 220), (255, 140, 200))   # RGB, by track id


def colour_of(track_id: int) -> tuple[int, int, int]:
    """Overlay colour (RGB) of a track."""
    return _COLOURS[track_id % len(_COLOURS)]


def draw_faces(rgb: np.ndarray, faces: list[FaceObservation], frame_index: int | None = None,
               landmarks: bool = True) -> np.ndarray:
    """Draw boxes, ids, landmarks and crop windows on a copy of a frame.

    Args:
        rgb: (H, W, 3) uint8 RGB frame.
        faces: the faces of this frame.
        frame_index: burnt in at the top left when given.
        landmarks: draw the 478 mesh points.

    Returns:
        (H, W, 3) uint8 RGB annotated copy.
    """
    out = np.ascontiguousarray(rgb).copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 400))
    for ob in faces:
        col = colour_of(ob.track_id)
        x0, y0, x1, y1 = (round(float(v)) for v in ob.box)
        cv2.rectangle(out, (x0, y0), (x1, y1), col, thick)
        s = ob.crop.size
        corners = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], dtype=np.float64)
        poly = (corners @ ob.crop.crop_to_frame.T).round().astype(np.int32)
        cv2.polylines(out, [poly], isClosed=True, color=col, thickness=1)
        if landmarks:
            xy = ob.landmarks[:, :2].round().astype(np.int64)
            inside = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
            out[xy[inside, 1], xy[inside, 0]] = col
        label = f"id {ob.track_id}" + (" D" if ob.detected else "")
        cv2.putText(out, label, (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4 * thick + 0.2, col, thick, cv2.LINE_AA)
    if frame_index is not None:
        cv2.putText(out, f"{frame_index}", (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7,
                    (255, 255, 0), 2, cv2.LINE_AA)
    return out


def render_preview(path_in: str | os.PathLike, shot_tracks: ShotTracks,
                   path_out: str | os.PathLike, landmarks: bool = True) -> Path:
    """Write the source video with every track drawn on it (H.264, source timing kept).

    Args:
        path_in: the tracked video.
        shot_tracks: its tracks.
        path_out: overlay video to write (e.g. ``overlay.mp4``); appears only when complete.
        landmarks: draw the mesh points (boxes, ids and crop windows are always drawn).

    Returns:
        The written path.

    Raises:
        vedit.errors.InputError: the source cannot be read.
        vedit.errors.OutputError: the output cannot be written.
    """
    from vedit.io import VideoWriter, open_video

    with open_video(path_in) as reader, \
            VideoWriter(path_out, template=reader.info, codec="h264", crf=20) as writer:
        for frame in reader:
            faces = shot_tracks.frame(frame.index)
            writer.write(frame, draw_faces(frame.rgb(), faces, frame.index, landmarks))
    return Path(path_out)
