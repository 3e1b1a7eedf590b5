"""The embedded engine on synthetic faces: decomposition, warp geometry, lids, mouth interior.

Faces are built from the engine's own canonical face placed in a textured frame, so every
expected position is known exactly; the mouth and lids are checked on pixels.
"""
from __future__ import annotations

import warnings

import cv2
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vedit.engines.base import ENGINES, FacePatch
from vedit.engines.embedded import EmbeddedEngine, EmbeddedOptions, MouthOptions, WarpOptions
from vedit.engines.embedded.eyes import EyeOptions, adjust_lids
from vedit.engines.embedded.mouth import mouth_box
from vedit.engines.embedded.shape import to_frame_xy, to_normalised
from vedit.engines.embedded.topology import (
    EYES,
    FACE_OVAL,
    INNER_LOOP,
    INNER_LOWER,
    INNER_UPPER,
    IRISES,
    OUTER_LOWER,
    OUTER_UPPER,
    canonical_face,
)
from vedit.engines.embedded.warp import build_field
from vedit.faces.types import CropTransform, FaceObservation
from vedit.motion.types import KeypointMotion

H, W = 480, 640
FACE_PX = 220.0                       # face height |p10 - p152| in pixels


def _crop(landmarks: np.ndarray, size: int = 512) -> CropTransform:
    """LivePortrait-style square crop: 2.3x the landmark extent, shifted up, no roll."""
    lo, hi = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
    side = 2.3 * float((hi - lo).max())
    cx, cy = (lo + hi) / 2 - [0.0, 0.125 * side]
    s = size / side
    f2c = np.array([[s, 0, size / 2 - s * cx], [0, s, size / 2 - s * cy]])
    c2f = np.array([[1 / s, 0, cx - side / 2], [0, 1 / s, cy - side / 2]])
    return CropTransform(size, f2c, c2f)


def _face(centre=(320.0, 250.0), rotation=None, face_px=FACE_PX, track_id=0) -> FaceObservation:
    """A neutral synthetic face: the canonical face, posed, in frame pixels (z in pixels)."""
    r = np.eye(3) if rotation is None else rotation
    k = face_px / 0.40
    lm = (k * (canonical_face() @ r) + [centre[0], centre[1], 0.0]).astype(np.float32)
    box = np.r_[lm[:, :2].min(0), lm[:, :2].max(0)].astype(np.float32)
    return FaceObservation(track_id, box, lm, _crop(lm))


def _frame(faces=(), seed=0) -> np.ndarray:
    """(H, W, 3) uint8 RGB: smooth random texture, with skin-toned faces and red lips drawn."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 1, (H // 8, W // 8, 3)).astype(np.float32)
    tex = cv2.resize(noise, (W, H), interpolation=cv2.INTER_CUBIC)
    img = np.clip(128 + 40 * tex, 0, 255).astype(np.uint8)
    for f in faces:
        p = f.landmarks[:, :2]
        cv2.fillPoly(img, [np.round(p[list(FACE_OVAL)]).astype(np.int32)], (222, 170, 150))
        outer = p[list(OUTER_UPPER + OUTER_LOWER[-2:0:-1])]
        cv2.fillPoly(img, [np.round(outer).astype(np.int32)], (190, 70, 80))
        for eye in EYES:
            cv2.fillPoly(img, [np.round(p[list(eye.loop)]).astype(np.int32)], (240, 240, 240))
            cv2.circle(img, tuple(np.round(p[eye.iris[0]]).astype(int)), 5, (60, 40, 30), -1)
            cv2.polylines(img, [np.round(p[[eye.corners[0], *eye.upper, eye.corners[1]]])
                                .astype(np.int32)], False, (20, 15, 15), 2)
    return img


def _composite(frame: np.ndarray, patch: FacePatch) -> np.ndarray:
    out = frame.copy()
    h, w = patch.alpha.shape
    region = out[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w].astype(np.float32)
    a = patch.alpha[..., None]
    mixed = np.round(a * patch.rgb + (1 - a) * region).astype(np.uint8)
    out[patch.y0:patch.y0 + h, patch.x0:patch.x0 + w] = np.where(a > 0, mixed, region)
    return out


def _with_points(face: FaceObservation, motion: KeypointMotion, moved_px: dict) -> np.ndarray:
    """Target keypoints: the source's with some landmarks moved by (dx, dy) frame pixels."""
    px = to_frame_xy(motion.keypoints(), face.crop)
    for idx, delta in moved_px.items():
        px[idx] += delta
    full = np.concatenate([px, face.landmarks[:, 2:3].astype(np.float64)], 1)
    target = to_normalised(full, face.crop)
    target[:, 2] = motion.keypoints()[:, 2]
    return target


def _lids_closed(face: FaceObservation, closed: float) -> dict:
    """Upper lids moved down by `closed` of each eye's lid gap (1: onto the lower lid)."""
    src = face.landmarks[:, :2].astype(np.float64)
    return {i: closed * gap for eye in EYES
            for i, gap in zip(eye.upper, src[list(eye.lower)] - src[list(eye.upper)],
                              strict=True)}


def _open_mouth(px: float) -> dict:
    """Lower lip, chin and jaw below the mouth moved down by up to `px` (a jaw drop)."""
    t = canonical_face()
    mouth_y = t[list(INNER_LOWER), 1].mean()
    chin_y = t[152, 1]
    moves = {}
    for i in range(len(t)):
        if i in INNER_UPPER or i in OUTER_UPPER:
            continue
        if i in INNER_LOWER or i in OUTER_LOWER:
            moves[i] = np.array([0.0, px])
        elif mouth_y < t[i, 1] <= chin_y:
            moves[i] = np.array([0.0, px * max(0.0, 1.0 - abs(t[i, 0]) / 0.3) ** 2])
    for corner in (INNER_UPPER[0], INNER_UPPER[-1], OUTER_UPPER[0], OUTER_UPPER[-1]):
        moves[corner] = np.array([0.0, px * 0.3])
    return moves


def test_registered_under_its_name():
    assert ENGINES["embedded"] is EmbeddedEngine


def test_expression_masks():
    eng = EmbeddedEngine()
    assert eng.expression_mask("all").all() and eng.expression_mask("exp").all()
    assert not eng.expression_mask("pose").any()
    lip, eyes = eng.expression_mask("lip"), eng.expression_mask("eyes")
    assert lip.shape == eyes.shape == (478, 3)
    assert lip[[13, 14, 78, 308, 152]].all() and not lip[[159, 145, 10]].any()
    assert eyes[[159, 145, 386, 374, *IRISES]].all() and not eyes[[13, 14, 1]].any()
    with pytest.raises(ValueError):
        eng.expression_mask("nose")


def test_motion_reproduces_landmarks_in_normalised_crop_coordinates():
    rng = np.random.default_rng(1)
    face = _face(rotation=Rotation.from_euler("xyz", [8, -12, 5], degrees=True).as_matrix())
    lm = face.landmarks + rng.normal(0, 2.0, face.landmarks.shape).astype(np.float32)
    face = FaceObservation(0, face.box, lm, face.crop)
    (m,) = EmbeddedEngine().motion([_frame()], [face])
    np.testing.assert_allclose(m.keypoints(), to_normalised(lm, face.crop), atol=1e-6)
    np.testing.assert_allclose(m.rotation @ m.rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(m.rotation) == pytest.approx(1.0, abs=1e-12)
    assert m.canonical.shape == m.expression.shape == (478, 3)


def test_motion_recovers_a_known_rotation_and_scale():
    r_true = Rotation.from_euler("xyz", [-10, 15, 7], degrees=True).as_matrix()
    s_true, t_true = 1.23, np.array([0.03, -0.02, 0.01])
    crop = _face().crop
    n = s_true * (canonical_face() @ r_true) + t_true          # normalised crop coordinates
    px = to_frame_xy(n, crop)
    z = n[:, 2:3] * crop.size / crop.frame_to_crop[0, 0]
    lm = np.concatenate([px, z], 1).astype(np.float64)
    face = FaceObservation(0, np.zeros(4, np.float32), lm.astype(np.float32), crop)
    (m,) = EmbeddedEngine().motion([_frame()], [face])
    np.testing.assert_allclose(m.rotation, r_true, atol=1e-5)
    assert m.scale == pytest.approx(s_true, rel=1e-5)
    np.testing.assert_allclose(m.translation[:2], t_true[:2], atol=1e-5)
    assert np.abs(m.expression[:, :2]).max() < 1e-4


def test_render_with_target_equal_to_source_changes_nothing():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    (patch,) = eng.render([frame], [face], [m], [m.keypoints()])
    assert isinstance(patch, FacePatch)
    assert np.array_equal(_composite(frame, patch), frame)


@pytest.mark.parametrize("inner_blur, p95, worst", [
    # the piecewise-affine field itself: exact where sampled finely, within half a pixel
    # elsewhere (coarse grid, outline)
    (0.0, 0.5, 1.5),
    # as rendered: the blur that keeps edges straight (see the next test) costs at most a
    # pixel or two at the outline next to a 15-pixel jaw drop
    (WarpOptions().inner_blur, 1.0, 2.5),
])
def test_field_moves_landmarks_to_their_targets(inner_blur, p95, worst):
    face = _face()
    src = face.landmarks[:, :2].astype(np.float64)
    c = src.mean(0)
    turn = Rotation.from_euler("z", 4, degrees=True).as_matrix()[:2, :2]
    wave = 2.0 * np.sin((src - c) / 45.0)[:, ::-1]                 # smooth expression
    dst = c + (src - c) @ turn.T + [2.5, -1.5] + wave
    for i, delta in _open_mouth(15.0).items():                      # and a sharp lip fold
        dst[i] += delta
    use = np.ones(478, bool)
    use[list(IRISES)] = False
    box = {"mouth": mouth_box(dst)}
    # without the anti-aliasing blur of the full-resolution mouth box
    fld = build_field(src, dst, use, (H, W), WarpOptions(fine_blur=0, inner_blur=inner_blur),
                      fine_boxes=box)
    d = fld.full()
    at = (dst[use] - [fld.x0, fld.y0]).astype(np.float32)
    sampled = np.stack([cv2.remap(np.ascontiguousarray(d[..., k]), at[:, :1], at[:, 1:],
                                  cv2.INTER_LINEAR)[:, 0] for k in range(2)], 1)
    err = np.linalg.norm(sampled - (src[use] - dst[use]), axis=1)
    assert np.percentile(err, 95) < p95 and err.max() < worst, np.percentile(err, [50, 95, 100])


def _edge_wobble(inner_blur: float) -> tuple[float, float]:
    """Raise the brows by 7% of the face under a straight hairline-like edge above them.

    Returns how far the edge moved up on average and its largest departure from its own
    15-column running mean (pixels): the zigzag a piecewise-affine warp draws there.
    """
    face = _face()
    p = face.landmarks[:, :2].astype(np.float64)
    brows = [i for eye in EYES for i in eye.brow]
    edge_y = int(np.rint(p[brows, 1].min() - 0.04 * FACE_PX))
    x0, x1 = int(p[brows, 0].min()), int(p[brows, 0].max())
    frame = _frame([face])
    frame[:edge_y, x0 - 30:x1 + 30] = (90, 60, 50)
    eng = EmbeddedEngine(EmbeddedOptions(warp=WarpOptions(inner_blur=inner_blur)))
    (m,) = eng.motion([frame], [face])
    target = _with_points(face, m, {i: np.array([0.0, -0.07 * FACE_PX]) for i in brows})
    (patch,) = eng.render([frame], [face], [m], [target])
    luma = _composite(frame, patch).astype(np.float32) @ np.array([0.299, 0.587, 0.114],
                                                                   np.float32)
    ys = []
    for x in range(x0, x1):
        col = luma[edge_y - 40:edge_y + 20, x]
        mid = 0.5 * (col[:5].mean() + col[-5:].mean())
        k = np.flatnonzero((col[:-1] < mid) & (col[1:] >= mid))[-1]   # dark above, skin below
        ys.append(edge_y - 40 + k + (mid - col[k]) / (col[k + 1] - col[k]))
    ys = np.array(ys)
    mean = np.convolve(np.pad(ys, 7, mode="edge"), np.ones(15) / 15, "valid")
    return float(edge_y - ys.mean()), float(np.abs(ys - mean).max())


def test_a_raised_brow_does_not_draw_the_edge_above_it_as_a_zigzag():
    moved, wobble = _edge_wobble(WarpOptions().inner_blur)
    raw_moved, raw_wobble = _edge_wobble(0.0)
    assert raw_wobble > 3.0                   # what the unblurred field draws (about 4.6 px)
    assert wobble < 1.0 and wobble < 0.25 * raw_wobble, (wobble, raw_wobble)
    assert moved > 4.0 and abs(moved - raw_moved) < 1.0     # the forehead still moves up


def _hull_distance(points: np.ndarray) -> np.ndarray:
    """(H, W) distance of every pixel from the convex hull of `points` (0 inside)."""
    hull = np.zeros((H, W), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(points).astype(np.int32)), 1)
    return cv2.distanceTransform((hull == 0).astype(np.uint8), cv2.DIST_L2, 5)


def test_nothing_moves_past_the_source_hull_dilated_by_less_than_a_quarter_face():
    """A head mask is the landmark hull dilated by a quarter face size (the project's
    yardstick); the warp and its fade stay inside reach + outer_gap (0.21) of it, with room
    to spare, whether the head shifts, rolls or opens its mouth."""
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    pts = face.landmarks[:, :2].astype(np.float64)
    size = float(np.ptp(pts, axis=0).max())
    opts = WarpOptions()
    far = _hull_distance(pts) > (opts.reach + opts.outer_gap) * size + 1.0
    centre = pts.mean(0)
    roll = Rotation.from_euler("z", 8, degrees=True).as_matrix()[:2, :2]
    rolled = centre + (pts - centre) @ roll.T - pts
    for moves in ({i: np.array([6.0, 4.0]) for i in range(478)},
                  {i: rolled[i] for i in range(478)}, _open_mouth(20.0)):
        (patch,) = eng.render([frame], [face], [m], [_with_points(face, m, moves)])
        out = _composite(frame, patch)
        assert np.array_equal(out[far], frame[far])
        assert not np.array_equal(out, frame)
        # and the patch is feathered: alpha is exactly 0 at its border where nothing moves
        assert patch.alpha.max() == pytest.approx(1.0)


@pytest.mark.parametrize("angle", [0.0, 10.0])
def test_the_fade_outside_the_face_neither_folds_nor_tears(angle):
    """The backward map stays one-to-one (Jacobian determinant > 0) through the short fade
    outside the outline, for a shifted and for a rolled head."""
    src = _face().landmarks[:, :2].astype(np.float64)
    centre = src.mean(0)
    turn = Rotation.from_euler("z", angle, degrees=True).as_matrix()[:2, :2]
    dst = centre + (src - centre) @ turn.T + [6.0, 8.0]
    use = np.ones(478, bool)
    use[list(IRISES)] = False
    d = build_field(src, dst, use, (H, W), WarpOptions()).full().astype(np.float64)
    jx, jy = np.diff(d, axis=1)[:-1], np.diff(d, axis=0)[:, :-1]
    det = (1 + jx[..., 0]) * (1 + jy[..., 1]) - jy[..., 0] * jx[..., 1]
    assert det.min() > 0.1, det.min()


def test_small_faces_get_a_finer_warp_grid():
    use = np.ones(478, bool)
    steps = {}
    for px in (60.0, 220.0, 400.0):
        src = _face(face_px=px).landmarks[:, :2].astype(np.float64)
        steps[px] = build_field(src, src + 2.0, use, (H, W), WarpOptions()).step
    assert steps[60.0] == 1 and steps[60.0] < steps[220.0] <= steps[400.0] == 4, steps


def test_opening_the_mouth_paints_a_plausible_cavity():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    target = _with_points(face, m, _open_mouth(24.0))
    (patch,) = eng.render([frame], [face], [m], [target])
    out = _composite(frame, patch)
    tgt_px = to_frame_xy(target, face.crop)
    cavity = np.zeros((H, W), np.uint8)
    inner = tgt_px[list(INNER_LOOP)]
    centre = inner.mean(0)
    cv2.fillPoly(cavity, [np.round(centre + 0.8 * (inner - centre)).astype(np.int32)], 1)
    assert cavity.sum() > 300
    luma = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY)[cavity > 0].astype(float)
    assert 15 < luma.mean() < 150, luma.mean()             # neither a black hole nor skin
    assert luma.std() > 8, luma.std()                      # shading, teeth: not a flat fill
    assert (luma > 140).mean() > 0.03                      # some teeth are lighter
    # the lip gap really opened: along the mouth's centre line the red lip is interrupted
    x = int(np.rint(tgt_px[13, 0]))
    col = out[int(tgt_px[0, 1]) - 2:int(tgt_px[17, 1]) + 3, x].astype(int)
    red = (col[:, 0] > 150) & (col[:, 1] < 110)
    gap = np.flatnonzero(~red[np.argmax(red):len(red) - np.argmax(red[::-1])])
    assert len(gap) >= 12, len(gap)


def test_mouth_fill_off_leaves_the_stretched_lips():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine(EmbeddedOptions(mouth=MouthOptions(fill=False)))
    (m,) = eng.motion([frame], [face])
    target = _with_points(face, m, _open_mouth(24.0))
    (patch,) = eng.render([frame], [face], [m], [target])
    out = _composite(frame, patch)
    p = to_frame_xy(target, face.crop)
    y = int(np.rint((p[13, 1] + p[14, 1]) / 2))
    x = int(np.rint(p[13, 0]))
    assert out[y, x, 0] > 150 and out[y, x, 1] < 120          # lip red, no cavity


def test_lids_are_clamped_and_closing_lids_cover_the_eye():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    src = face.landmarks[:, :2].astype(np.float64)
    target = _with_points(face, m, _lids_closed(face, 1.6))    # far past the lower lid
    dst = adjust_lids(src, to_frame_xy(target, face.crop), EyeOptions())
    for eye in EYES:
        assert (dst[list(eye.lower), 1] - dst[list(eye.upper), 1] > -1e-6).all()
    (patch,) = eng.render([frame], [face], [m], [target])
    out = _composite(frame, patch)
    for eye in EYES:
        loop = src[list(eye.loop)]
        mask = np.zeros((H, W), np.uint8)
        cv2.fillPoly(mask, [np.round(loop).astype(np.int32)], 1)
        mask = cv2.erode(mask, np.ones((3, 3), np.uint8))
        before = (frame[mask > 0].min(-1) > 225).mean()       # white of the eye
        after = (out[mask > 0].min(-1) > 225).mean()
        assert before > 0.4 and after < 0.1, (before, after)


def _closing_render(closed: float, lash_band: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper lids moved down by `closed` of the gap; returns the output and the target."""
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine(EmbeddedOptions(eyes=EyeOptions(lash_band=lash_band)))
    (m,) = eng.motion([frame], [face])
    src = face.landmarks[:, :2].astype(np.float64)
    target = _with_points(face, m, _lids_closed(face, closed))
    (patch,) = eng.render([frame], [face], [m], [target])
    return _composite(frame, patch), adjust_lids(src, to_frame_xy(target, face.crop),
                                                  EyeOptions())


def _lash_gap(out: np.ndarray, dst: np.ndarray) -> float:
    """Brightest of the darkest pixels in each column along the closed upper margins (a
    column without any lash pixel near the margin is a break in the lash line)."""
    luma = out.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    worst = 0.0
    for eye in EYES:
        margin = dst[[eye.corners[0], *eye.upper, eye.corners[1]]]
        margin = margin[np.argsort(margin[:, 0])]
        w = float(np.ptp(margin[:, 0]))
        xs = np.arange(int(margin[0, 0] + 0.15 * w), int(margin[-1, 0] - 0.15 * w))
        for x, y in zip(xs, np.interp(xs, margin[:, 0], margin[:, 1]), strict=True):
            worst = max(worst, float(luma[int(y - 0.05 * w):int(y + 0.12 * w) + 1, x].min()))
    return worst


def test_a_closed_eye_gets_an_unbroken_lash_band_and_a_half_closed_one_none():
    out, dst = _closing_render(1.0, EyeOptions().lash_band)
    bare, _ = _closing_render(1.0, 0.0)
    assert _lash_gap(out, dst) < 60                  # dark lashes all along the closed lid
    assert _lash_gap(bare, dst) > 120                # the squashed fringes alone leave breaks
    half, _ = _closing_render(0.3, EyeOptions().lash_band)
    half_bare, _ = _closing_render(0.3, 0.0)
    assert np.array_equal(half, half_bare)           # below closed_from: no band at all


def test_two_faces_in_one_frame_get_their_own_patches():
    a, b = _face((170.0, 240.0), face_px=120), _face((470.0, 240.0), face_px=120, track_id=1)
    frame = _frame([a, b])
    eng = EmbeddedEngine()
    ma, mb = eng.motion([frame, frame], [a, b])
    ta = _with_points(a, ma, _open_mouth(10.0))
    tb = mb.keypoints()
    pa, pb = eng.render([frame, frame], [a, b], [ma, mb], [ta, tb])
    assert pa.alpha.max() > 0 and pb.alpha.max() == 0
    assert pa.x0 + pa.alpha.shape[1] <= 320                  # a's patch stays on a's side


def test_large_head_turn_renders_without_holes():
    face = _face()
    yy, xx = np.mgrid[0:H, 0:W]
    ramp = np.stack([xx * 0.35, yy * 0.45, np.full_like(xx, 128.0)], -1)
    frame = np.round(ramp).astype(np.uint8)       # colour encodes where a pixel came from
    eng = EmbeddedEngine(EmbeddedOptions(mouth=MouthOptions(fill=False),
                                         eyes=EyeOptions(lid_smoothing=0)))
    (m,) = eng.motion([frame], [face])
    for axis in "xyz":
        turn = Rotation.from_euler(axis, 15, degrees=True).as_matrix()
        moved = KeypointMotion(m.canonical, turn @ m.rotation, m.expression, m.scale,
                               m.translation)
        (patch,) = eng.render([frame], [face], [m], [moved.keypoints()])
        out = _composite(frame, patch).astype(int)
        assert patch.alpha.max() == pytest.approx(1.0)
        # a tear is a jump in where neighbouring pixels come from: a step in the ramp
        step = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
        assert step <= 3, (axis, step)


def test_rejects_mismatched_inputs():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    with pytest.raises(ValueError):
        eng.motion([frame, frame], [face])
    with pytest.raises(ValueError):
        eng.render([frame], [face], [m], [m.keypoints()[:10]])


def test_face_cut_by_the_frame_edge():
    face = _face(centre=(40.0, 120.0))                        # half the head is outside
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    target = _with_points(face, m, _open_mouth(15.0))
    (patch,) = eng.render([frame], [face], [m], [target])
    h, w = patch.alpha.shape
    assert patch.x0 >= 0 and patch.y0 >= 0 and patch.x0 + w <= W and patch.y0 + h <= H
    assert patch.alpha.max() > 0


@pytest.mark.parametrize("x", [0.0, 17.0, 20.0, 22.0, 618.0, 620.0, 623.0, 640.0])
def test_closing_eyes_cut_by_the_frame_edge(x):
    """Eyes closing at the frame edge, among them an eye whose lid margin lies just past the
    edge while the lid skin above it is inside (17-22 px from the left edge, 618-623 from the
    right): no NaNs, no warnings, no lash band without a margin in the picture."""
    face = _face(centre=(x, 240.0))
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    target = _with_points(face, m, _lids_closed(face, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (patch,) = eng.render([frame], [face], [m], [target])
    assert np.isfinite(patch.alpha).all() and patch.alpha.max() > 0


def test_head_roll_is_not_absorbed_by_a_rolled_crop():
    """The tracker turns its crop with the head's roll; the motion must still carry the roll."""
    from vedit.faces.crop import CropWindow, roll_angle

    r_true = Rotation.from_euler("xyz", [4, -6, 14], degrees=True).as_matrix()
    face = _face(rotation=r_true)
    lm = face.landmarks
    angle = roll_angle(lm)
    assert abs(np.degrees(angle)) > 10
    window = CropWindow(lm[:, :2].mean(0).astype(np.float64), 2.3 * float(np.ptp(lm[:, 1])),
                        angle)
    rolled = FaceObservation(0, face.box, lm, window.transform(512))
    (m,) = EmbeddedEngine().motion([_frame()], [rolled])
    np.testing.assert_allclose(m.rotation, r_true, atol=1e-5)
    np.testing.assert_allclose(to_frame_xy(m.keypoints(), rolled.crop), lm[:, :2], atol=1e-3)


def test_lower_face_only_targets_leave_the_eyes_bit_identical():
    face = _face()
    frame = _frame([face])
    eng = EmbeddedEngine()
    (m,) = eng.motion([frame], [face])
    lower = eng.expression_mask("lip")[:, 0]
    target = _with_points(face, m, {i: d for i, d in _open_mouth(20.0).items() if lower[i]})
    target[~lower] = m.keypoints()[~lower]                 # as Eq. 8 leaves them in lip mode
    (patch,) = eng.render([frame], [face], [m], [target])
    out = _composite(frame, patch)
    eyes = face.landmarks[[33, 133, 159, 145, 362, 263, 386, 374, 70, 300], :2]
    (x0, y0), (x1, y1) = np.floor(eyes.min(0) - 8).astype(int), np.ceil(eyes.max(0) + 8).astype(int)
    assert np.array_equal(out[y0:y1, x0:x1], frame[y0:y1, x0:x1])
    assert not np.array_equal(out, frame)


def test_a_blinking_source_keeps_its_lids_when_the_target_does_not_move_them():
    face = _face()
    src = face.landmarks[:, :2].astype(np.float64)
    for eye in EYES:                                        # lids crossed, as MediaPipe reads
        gap = src[list(eye.lower)] - src[list(eye.upper)]   # a closed eye now and then
        src[list(eye.upper)] += 1.1 * gap
    np.testing.assert_allclose(adjust_lids(src, src.copy(), EyeOptions()), src, atol=1e-9)


def test_lips_keep_a_readable_thickness_when_the_mouth_opens():
    from vedit.engines.embedded.mouth import keep_lip_thickness

    face = _face(face_px=90.0)                             # a small face: lips ~4 px thick
    src = face.landmarks[:, :2].astype(np.float64)
    dst = src.copy()
    for i in _open_mouth(10.0):
        dst[i] += _open_mouth(10.0)[i]
    inner, outer = list(INNER_UPPER[1:-1]), list(OUTER_UPPER[1:-1])
    th_src = src[inner, 1] - src[outer, 1]
    dst[inner, 1] = dst[outer, 1] + 0.3 * th_src            # the driving's lip thinned to 30 %
    kept = keep_lip_thickness(src, dst, MouthOptions())
    th = kept[inner, 1] - kept[outer, 1]
    floor = np.minimum(th_src, np.maximum(0.6 * th_src, 3.5))
    assert (th >= floor - 0.05).all(), (th, floor)
    gap_before = dst[list(INNER_LOWER[1:-1]), 1] - dst[inner, 1]
    assert (kept[inner, 1] - dst[inner, 1] <= 0.4 * gap_before + 1e-9).all()
    np.testing.assert_array_equal(np.delete(kept, inner, 0), np.delete(dst, inner, 0))
    # a lip that keeps its thickness is left exactly as Eq. 8 put it
    np.testing.assert_array_equal(keep_lip_thickness(src, src.copy(), MouthOptions()), src)


def test_lip_mode_derives_the_lower_face_from_the_lips():
    from vedit.engines.embedded.jaw import JawOptions, lip_mode_targets
    from vedit.engines.embedded.topology import LIPS, lip_region

    face = _face()
    src = face.landmarks[:, :2].astype(np.float64)
    dst = src.copy()
    lower = lip_region()
    rng = np.random.default_rng(3)
    dst[lower] += rng.normal(0, 3.0, (lower.sum(), 2))    # silhouette deltas of a turning head
    for i in (*INNER_LOWER[1:-1], *OUTER_LOWER[1:-1]):
        dst[i] = src[i] + [0.0, 12.0]                        # the lower lip drops 12 px
    opts = JawOptions()
    out = lip_mode_targets(src, dst, opts)
    np.testing.assert_array_equal(out[list(LIPS)], dst[list(LIPS)])
    np.testing.assert_array_equal(out[~lower], src[~lower])
    corner_y = src[[61, 291], 1].mean()
    above = [i for i in FACE_OVAL if src[i, 1] <= corner_y]
    np.testing.assert_array_equal(out[above], src[above])
    # the jaw moves straight down by its share of the lip's drop: the outline keeps its width
    np.testing.assert_allclose(out[152] - src[152], [0.0, 12.0 * opts.chin_follow], atol=0.2)
    below = [i for i in FACE_OVAL if src[i, 1] > corner_y]
    np.testing.assert_allclose(out[below, 0], src[below, 0], atol=1e-9)
    assert (out[below, 1] >= src[below, 1] - 1e-9).all()
    # a target that moves no lip moves nothing
    still = src.copy()
    still[lower & ~np.isin(np.arange(478), LIPS)] += 2.0
    np.testing.assert_allclose(lip_mode_targets(src, still, opts), src, atol=1e-9)
