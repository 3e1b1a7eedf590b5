"""The embedded engine on a real face: s18's first frame, tracked by vedit.faces.

Skips when the shared clips are absent. The face tracker's crops carry a roll, so this also
checks the decomposition through a rotated crop.
"""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from vedit.engines.embedded import EmbeddedEngine
from vedit.engines.embedded.shape import to_frame_xy, to_normalised
from vedit.engines.embedded.topology import FACE_OVAL, INNER_LOOP, INNER_LOWER, OUTER_LOWER


@pytest.fixture(scope="module")
def s18_face(media):
    av = pytest.importorskip("av")
    faces_api = pytest.importorskip("vedit.faces.api")
    with av.open(str(media / "s18.mp4")) as c:
        frame = next(c.decode(video=0)).to_ndarray(format="rgb24")
    (faces,) = list(faces_api.track_frames([frame], fps=30))
    if not faces:
        pytest.skip("vedit.faces found no face in s18 frame 0")
    return frame, faces[0]


def test_real_face_round_trip_through_a_rolled_crop(s18_face):
    frame, face = s18_face
    (m,) = EmbeddedEngine().motion([frame], [face])
    np.testing.assert_allclose(m.keypoints(), to_normalised(face.landmarks, face.crop),
                               atol=1e-6)
    assert 0.5 < m.scale < 2.0


def test_real_face_opens_its_mouth_with_teeth_and_shading(s18_face):
    frame, face = s18_face
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    px = to_frame_xy(m.keypoints(), face.crop)
    face_h = np.linalg.norm(px[10] - px[152])
    drop = np.zeros_like(px)
    lower = [*INNER_LOWER[1:-1], *OUTER_LOWER[1:-1], 152, 148, 176, 377, 400, 17, 18, 200, 199]
    drop[lower, 1] = 0.12 * face_h                       # the s18 actor never opens her mouth
    target = to_normalised(np.concatenate([px + drop, face.landmarks[:, 2:3]], 1), face.crop)
    target[:, 2] = m.keypoints()[:, 2]
    (patch,) = eng.render([frame], [face], [m], [target])
    out = frame.copy()
    h, w = patch.alpha.shape
    region = out[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w].astype(np.float32)
    a = patch.alpha[..., None]
    out[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w] = np.where(
        a > 0, np.round(a * patch.rgb + (1 - a) * region), region).astype(np.uint8)

    tgt = to_frame_xy(target, face.crop)
    inner = tgt[list(INNER_LOOP)]
    mask = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(inner.mean(0) + 0.85 * (inner - inner.mean(0)))
                        .astype(np.int32)], 1)
    luma = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[mask > 0].astype(float)
    assert mask.sum() > 500
    assert 20 < luma.mean() < 140 and luma.std() > 12, (luma.mean(), luma.std())
    assert (luma > 150).mean() > 0.03                    # a band of teeth
    assert (luma < 60).mean() > 0.2                      # a dark cavity behind them

    oval = px[list(FACE_OVAL)]
    ring = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(ring, [np.round(oval.mean(0) + 2.0 * (oval - oval.mean(0))).astype(np.int32)],
                 1)
    assert np.array_equal(out[ring == 0], frame[ring == 0])
