"""Issue 5, the small-face case against a known ideal: a real performance at a dancer's size.

The dancer of two_faces (a face ~60 px tall that turns as she dances) reads short on the
yardstick's dlib instrument, whose detector and 68-point model work near their limits at that
size. To tell what the engine draws from what the instrument can read, this test builds a shot
whose perfect re-animation exists: d0's real face scaled to the dancer's size and drifting
across the picture. The source shows d0's first frame along that path, the ideal output d0's
own frames along the same path. The engine, given the source and d0 as driving, must read on
both instruments within a small margin of what the ideal reads. (Even the ideal reads dlib eye
r 0.53 here, with the same boxes for source and output; with the yardstick's default HOG copy
it reads 0.41, and mouth 0.52.)
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from support import SMALL_FACE_EVAL

from vedit.faces import TrackerConfig, track_frames
from vedit.io import VideoWriter, open_video
from vedit.pipeline.config import EditConfig
from vedit.pipeline.edit import edit

FACE_PX = 60.0        # face height in the shot, as the dancer's
SIZE = (480, 720)     # (width, height): a half of two_faces


def _drifting_face(frames: list[np.ndarray], path: list[tuple[float, float]],
                   centre: np.ndarray, scale: float, out) -> None:
    """Each frame's face, scaled and centred on its point of `path`, on a plain background;
    written losslessly so the only differences between two such clips are the faces'."""
    h, w = frames[0].shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    # a soft oval around the face, so no square edge of the driving's picture shows
    radius = np.hypot((xx - centre[0]) / (0.33 * w), (yy - centre[1]) / (0.4 * h))
    mask = np.clip(1.4 - radius, 0.0, 1.0).astype(np.float32)
    with VideoWriter(out, width=SIZE[0], height=SIZE[1], fps=25, codec="ffv1") as writer:
        for frame, (cx, cy) in zip(frames, path, strict=True):
            to_shot = np.array([[scale, 0.0, cx - scale * centre[0]],
                                [0.0, scale, cy - scale * centre[1]]])
            face = cv2.warpAffine(frame, to_shot, SIZE, flags=cv2.INTER_AREA)
            alpha = cv2.warpAffine(mask, to_shot, SIZE)[..., None]
            picture = 110.0 * (1.0 - alpha) + face * alpha
            writer.write_rgb(np.rint(picture).astype(np.uint8))


@pytest.fixture(scope="module")
def small_face_clips(media, tmp_path_factory):
    folder = tmp_path_factory.mktemp("small_face")
    with open_video(media / "d0.mp4") as reader:
        frames = [f.rgb() for f in reader]
    face = next(iter(track_frames(frames[:1], TrackerConfig())))[0]
    x0, y0, x1, y1 = face.box
    centre = np.array([(x0 + x1) / 2.0, (y0 + y1) / 2.0])
    scale = FACE_PX / (y1 - y0)
    n = len(frames)
    path = [(240.0 + 14.0 * math.sin(2 * math.pi * i / 50), 170.0 + 9.0 * math.sin(
        2 * math.pi * i / 37)) for i in range(n)]
    source, ideal = folder / "source.mkv", folder / "ideal.mkv"
    _drifting_face([frames[0]] * n, path, centre, scale, source)
    _drifting_face(frames, path, centre, scale, ideal)
    return source, ideal, media / "d0.mp4"


def test_a_small_drifting_face_follows_the_driving_as_well_as_real_footage_reads(
        small_face_clips, tmp_path, evaluate):
    source, ideal, driving = small_face_clips
    out = tmp_path / "out.mkv"
    edit(EditConfig(source=source, driving=driving, output=out, codec="ffv1"))
    best = evaluate(source, [driving], ideal, extra=SMALL_FACE_EVAL)["faces"][0]
    ours = evaluate(source, [driving], out, extra=SMALL_FACE_EVAL)["faces"][0]
    for what, goal in (("mouth", 0.80), ("eyes", 0.60)):
        assert ours["expression"][what]["r"] >= goal, (what, ours["expression"][what])
    for instrument in ("expression", "expression_dlib"):
        if instrument not in best:
            continue
        for what in ("mouth", "eyes"):
            # the ideal shows what the instrument can read at this size at all: on dlib's eyes
            # that is r 0.53 (below the 0.60 for any engine), on the rest 0.84-0.99
            r_best, r_ours = best[instrument][what]["r"], ours[instrument][what]["r"]
            assert r_ours >= r_best - 0.10, (instrument, what, ours[instrument][what],
                                             best[instrument][what])
