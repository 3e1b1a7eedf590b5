"""Eyelids and gaze: make the lid motion a landmark warp can draw, and keep it physical.

What a warp of the lid landmarks alone draws, an independent landmark model (dlib) reads as a
much weaker blink than the one drawn. Each step below fixes one reason, measured on s18 x d11:

* Carry the lid. MediaPipe's lid landmarks sit on the lid margin; the lashes and lid skin above
  it belong to the next two landmark rings. Moving only the margin stretches the lashes instead
  of carrying them. The margin's change (in the eye's own frame, so head motion cancels) is
  carried over to ring 1 (lashes, lid fold) and ring 2 (crease), `band1` / `band2`.
* Occlude, do not squash. A closing lid slides over the eyeball; squashing the whole eyeball
  into the narrower opening draws a flat, full-width iris slit that reads as an open eye. A row
  of extra control points just inside the target lid margin keeps the eyeball where the head
  puts it, so the fold of the warp sits in a pixel-thin strip under the lashes (the warp is
  sampled at full resolution around the eyes for this, see `warp`).
* No eyeball under a closed lid. MediaPipe's lid contours sit a pixel or so inside the visible
  margin; as a lid closes, the source positions its margin samples are pushed out of the
  eyeball by up to `lid_margin`.
* Unfold the lid. A closing lid's crease flattens into smooth skin (`smooth_lids`); the open
  lid's stretched crease shadow otherwise reads as the upper lid, still high.
* Close with a lash band. Pressed together, the lash lines of a closed eye are one dark band
  under smooth lid skin. The warp draws two lash fringes squashed into a zigzag with bits of
  iris between them, which reads as an eye still half open (dlib put its lid points on the
  skin above and below it). Past `closed_from` of the source gap closed, the target opening is
  painted as lid skin and a band of the lashes' own colour is drawn along the closed margin,
  fully at `closed_at`.
* Lids are clamped so they never cross. Irises are not control points of the warp (their
  circle runs under the lids and would fold the lid skin); gaze is a separate shift of the
  visible eyeball inside the target lid opening.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .topology import EYES, _Eye


@dataclass(frozen=True)
class EyeOptions:
    """Parameters of the lid and gaze treatment.

    Attributes:
        band1: fraction of the lid-margin change that ring 1 (lashes, lid fold) follows.
        band2: fraction that ring 2 (lid skin towards the crease) follows.
        closed_gap: lid gap kept when lids meet, in eye widths.
        occlusion: keep the eyeball in place under a closing lid (see the module docstring).
        occlusion_px: depth of the strip under the lid margin that absorbs the fold, pixels.
        lid_margin: how far (eye widths) a fully closed lid's margin samples beyond the
            source's lid contour, scaled by how much of the source gap is closed.
        lid_smoothing: strength of the lid unfolding of a closing eye (see `smooth_lids`).
        lash_band: thickness of a closed eye's lash band at its middle, in eye widths (0: none).
        closed_from, closed_at: closure (fraction of the source's lid gap closed) where the
            lash band starts to show and where it is fully drawn.
        gaze: shift the visible eyeball by the iris motion relative to the eye corners.
        max_gaze: largest gaze shift, in eye widths.
    """

    band1: float = 1.0
    band2: float = 0.9
    closed_gap: float = 0.01
    occlusion: bool = True
    occlusion_px: float = 1.0
    lid_margin: float = 0.06
    lid_smoothing: float = 1.0
    lash_band: float = 0.09
    closed_from: float = 0.45
    closed_at: float = 0.8
    gaze: bool = True
    max_gaze: float = 0.12


Frame = tuple[np.ndarray, np.ndarray, np.ndarray, float]


class _EyeIndex:
    """One eye's landmark chains as index arrays (fancy indexing with a list re-converts it)."""

    def __init__(self, eye: _Eye) -> None:
        self.upper, self.lower = np.array(eye.upper), np.array(eye.lower)
        self.ring1 = tuple(np.array(chain) for chain in eye.ring1)
        self.ring2 = tuple(np.array(chain) for chain in eye.ring2)
        self.loop = np.array(eye.loop)
        self.margin = np.array([eye.corners[0], *eye.upper, eye.corners[1]])
        self.top = np.array([eye.ring2[0][1], *eye.ring2[1][::-1], eye.ring2[0][0]])


_INDEX = {eye: _EyeIndex(eye) for eye in EYES}


def _index(eye: _Eye) -> _EyeIndex:
    """The index arrays of `eye` (built on the fly for an eye other than those of `EYES`)."""
    return _INDEX.get(eye) or _EyeIndex(eye)


@dataclass(frozen=True)
class EyeLids:
    """One eye's frame in a set of landmarks, and its lid margins in that frame.

    Every lid step measures the margins in the eye's own frame; `eye_lids` computes them once
    per face so the steps can share them (on tiny arrays, numpy's per-call cost is most of the
    work). The arrays are shared: copy before changing them.

    Attributes:
        frame: the eye's frame (origin, unit x, unit y, width), see `_frame`.
        upper, lower: (7, 2) float64 upper / lower lid margin, eye coordinates.
    """

    frame: Frame
    upper: np.ndarray
    lower: np.ndarray


def eye_lids(p: np.ndarray) -> tuple[EyeLids, ...]:
    """`EyeLids` of both eyes (in `EYES` order) of (478, 2) frame-pixel landmarks `p`."""
    out = []
    for eye in EYES:
        ix, frame = _index(eye), _frame(p, eye)
        out.append(EyeLids(frame, _local(p[ix.upper], frame), _local(p[ix.lower], frame)))
    return tuple(out)


def _frame(p: np.ndarray, eye: _Eye) -> Frame:
    """Origin, unit x (outer -> inner corner), unit y (towards the cheek), eye width.

    The y direction is taken from ring 2, which stays well apart when the lids meet or cross.
    """
    ix = _index(eye)
    o, i = p[eye.corners[0]], p[eye.corners[1]]
    d = i - o
    w = math.sqrt(d.dot(d))                   # np.linalg.norm(d), without its checks
    ex = d / max(w, 1e-9)
    ey = np.array([-ex[1], ex[0]])
    if (_mean(p[ix.ring2[2]]) - _mean(p[ix.ring2[1]])) @ ey < 0:
        ey = -ey
    return o, ex, ey, max(w, 1e-9)


def _mean(points: np.ndarray) -> np.ndarray:
    """`points.mean(0)`, bit for bit (the same sum, then / n), at a third of the cost."""
    return np.add.reduce(points, 0) / len(points)


def _local(p, frame):
    o, ex, ey, w = frame
    r = p - o
    out = np.empty(r.shape)
    out[..., 0] = r @ ex
    out[..., 1] = r @ ey
    out /= w
    return out


def _local_y(p, frame):
    """`_local(p, frame)[..., 1]`, the same numbers, without computing x."""
    o, _, ey, w = frame
    return (p - o) @ ey / w


def _global(uv, frame):
    o, ex, ey, w = frame
    return o + w * (uv[..., :1] * ex + uv[..., 1:] * ey)


def adjust_lids(src: np.ndarray, dst: np.ndarray, opts: EyeOptions,
                src_lids: tuple[EyeLids, ...] | None = None) -> np.ndarray:
    """Clamp the target lids and carry the lid-margin change to the lid skin rings.

    Args:
        src, dst: (478, 2) float64 frame-pixel landmarks of the source and the target.
        opts: lid parameters.
        src_lids: `eye_lids(src)` when already computed.

    Returns:
        (478, 2) float64 adjusted copy of `dst`.
    """
    if src_lids is None:
        src_lids = eye_lids(src)
    out = dst.copy()
    for eye, lids_s in zip(EYES, src_lids, strict=True):
        ix = _index(eye)
        fs, ft = lids_s.frame, _frame(dst, eye)
        up_s, lo_s = lids_s.upper, lids_s.lower
        up_t, lo_t = _local(dst[ix.upper], ft), _local(dst[ix.lower], ft)
        gap = lo_t[:, 1] - up_t[:, 1]
        # never narrower than closed_gap, unless the source's own lids are (a blink): what the
        # source shows as it is stays as it is
        gap_s = lo_s[:, 1] - up_s[:, 1]
        floor = np.minimum(opts.closed_gap, gap_s)
        crossed = gap < floor - 1e-9
        if crossed.any():
            meet = 0.3 * up_t[crossed, 1] + 0.7 * lo_t[crossed, 1]
            up_t[crossed, 1] = meet - floor[crossed] / 2
            lo_t[crossed, 1] = meet + floor[crossed] / 2
        out[ix.upper], out[ix.lower] = _global(up_t, ft), _global(lo_t, ft)
        for margin_t, margin_s, side in ((up_t, up_s, 1), (lo_t, lo_s, 2)):
            change = margin_t[:, 1] - margin_s[:, 1]
            for ring, beta in ((ix.ring1, opts.band1), (ix.ring2, opts.band2)):
                idx = ring[side]
                y_s, r_t = _local_y(src[idx], fs), _local(dst[idx], ft)
                own = r_t[:, 1] - y_s
                r_t[:, 1] = y_s + own + beta * (change - own)
                out[idx] = _global(r_t, ft)
    return out


def fine_box(dst: np.ndarray, eye: _Eye, pad: float = 6.0) -> tuple[int, int, int, int]:
    """Frame-pixel box (x0, y0, x1, y1) around an eye's target lids and ring 1."""
    pts = dst[[*eye.loop, *eye.ring1[0], *eye.ring1[1], *eye.ring1[2]]]
    x0, y0 = np.floor(pts.min(0) - pad).astype(int)
    x1, y1 = np.ceil(pts.max(0) + pad).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def gaze_shift(src: np.ndarray, dst: np.ndarray, eye: _Eye, origin: tuple[int, int],
               shape: tuple[int, int], opts: EyeOptions,
               frames: tuple[Frame, Frame] | None = None) -> np.ndarray | None:
    """Backward displacement that moves the visible eyeball of one eye with its iris.

    Args:
        src, dst: (478, 2) frame-pixel landmarks (irises included) of source and target.
        eye: which eye.
        origin: frame pixel (x, y) of the box's top-left sample.
        shape: (h, w) of the box, full resolution.
        opts: eye parameters.
        frames: the eye's frames in `src` and `dst` when already computed (`EyeLids.frame`).

    Returns:
        (h, w, 2) float32 displacement to add, or None when gaze is off or does not move.
    """
    if not opts.gaze:
        return None
    fs, ft = frames if frames is not None else (_frame(src, eye), _frame(dst, eye))
    c = eye.iris[0]
    duv = _local(dst[c], ft) - _local(src[c], fs)
    norm = float(np.hypot(*duv))
    if norm > opts.max_gaze:
        duv *= opts.max_gaze / norm
    shift = ft[3] * (duv[0] * ft[1] + duv[1] * ft[2])
    if np.hypot(*shift) < 0.05:
        return None
    loop = dst[_index(eye).loop]
    centre = _mean(loop)
    poly = centre + 0.8 * (loop - centre) - np.asarray(origin, np.float64)
    bump = np.zeros(shape, np.uint8)
    cv2.fillPoly(bump, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    bump = cv2.GaussianBlur(bump.astype(np.float32) / 255.0, (0, 0), 0.15 * ft[3])
    # -bump[..., None] * shift, one component at a time (a product that broadcasts over a
    # last axis of 2 is several times slower)
    out, neg = np.empty((*bump.shape, 2), np.float32), -bump
    for k, s in enumerate(shift.astype(np.float32)):
        np.multiply(neg, s, out=out[..., k])
    return out


def occlusion_controls(src: np.ndarray, dst: np.ndarray, opts: EyeOptions,
                       src_lids: tuple[EyeLids, ...] | None = None,
                       dst_lids: tuple[EyeLids, ...] | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Extra control points that pin the eyeball under lids that close further than the source.

    For each lid-margin point that sits further into the eye than in the source, a point
    `occlusion_px` further in is added; it samples the source at the same eye coordinates (eye
    corners as the frame), i.e. where the head alone would put that bit of eyeball.

    Args:
        src, dst: (478, 2) float64 frame-pixel landmarks; `dst` after `adjust_lids`.
        opts: eye parameters.
        src_lids, dst_lids: `eye_lids(src)`, `eye_lids(dst)` when already computed.

    Returns:
        (M, 2) target positions and (M, 2) source positions, frame pixels (M may be 0).
    """
    tgt_pts, src_pts = [], []
    if opts.occlusion:
        src_lids = eye_lids(src) if src_lids is None else src_lids
        dst_lids = eye_lids(dst) if dst_lids is None else dst_lids
        for lids_s, lids_t in zip(src_lids, dst_lids, strict=True):
            fs, ft = lids_s.frame, lids_t.frame
            eps = opts.occlusion_px / ft[3]
            up_t, lo_t = lids_t.upper, lids_t.lower
            room = lo_t[:, 1] - up_t[:, 1] > 3 * eps
            for margin_t, margin_s, sign in ((up_t, lids_s.upper, 1.0),
                                             (lo_t, lids_s.lower, -1.0)):
                closing = sign * (margin_t[:, 1] - margin_s[:, 1]) > eps
                keep = closing & room
                if keep.any():
                    q = margin_t[keep]                # a copy (boolean indexing)
                    q[:, 1] += sign * eps
                    tgt_pts.append(_global(q, ft))
                    src_pts.append(_global(q, fs))
    if not tgt_pts:
        return np.zeros((0, 2)), np.zeros((0, 2))
    return np.concatenate(tgt_pts), np.concatenate(src_pts)


def pushed_sources(src: np.ndarray, dst: np.ndarray, opts: EyeOptions,
                   src_lids: tuple[EyeLids, ...] | None = None,
                   dst_lids: tuple[EyeLids, ...] | None = None) -> np.ndarray:
    """Source positions of the lid margins, pushed out of the eyeball as the target closes.

    Args:
        src, dst: (478, 2) float64 frame-pixel landmarks; `dst` after `adjust_lids`.
        opts: eye parameters.
        src_lids, dst_lids: `eye_lids(src)`, `eye_lids(dst)` when already computed.

    Returns:
        (478, 2) float64 copy of `src` with the lid-margin points moved (upper up, lower down)
        by lid_margin * closure, closure = 1 - target gap / source gap, in [0, 1], per pair.
    """
    out = src.copy()
    if opts.lid_margin <= 0:
        return out
    src_lids = eye_lids(src) if src_lids is None else src_lids
    dst_lids = eye_lids(dst) if dst_lids is None else dst_lids
    for eye, lids_s, lids_t in zip(EYES, src_lids, dst_lids, strict=True):
        ix, fs = _index(eye), lids_s.frame
        up_s, lo_s = lids_s.upper.copy(), lids_s.lower.copy()
        gap_s = np.maximum(lo_s[:, 1] - up_s[:, 1], 1e-6)
        gap_t = lids_t.lower[:, 1] - lids_t.upper[:, 1]
        push = opts.lid_margin * np.clip(1.0 - gap_t / gap_s, 0.0, 1.0)
        up_s[:, 1] -= push
        lo_s[:, 1] += push
        out[ix.upper], out[ix.lower] = _global(up_s, fs), _global(lo_s, fs)
    return out


def closure(lids_s: EyeLids, lids_t: EyeLids) -> float:
    """How much of the source's lid gap the target closes, in [0, 1] (0: as open or wider)."""
    gap_s = lids_s.lower[:, 1] - lids_s.upper[:, 1]
    gap_t = lids_t.lower[:, 1] - lids_t.upper[:, 1]
    # min/max of Python floats: np.clip's result (NaN included) without its per-call cost
    return min(max(float(1.0 - gap_t.sum() / max(gap_s.sum(), 1e-6)), 0.0), 1.0)


def smooth_lids(rgb: np.ndarray, alpha: np.ndarray, origin: tuple[int, int], src: np.ndarray,
                dst: np.ndarray, opts: EyeOptions, src_lids: tuple[EyeLids, ...] | None = None,
                dst_lids: tuple[EyeLids, ...] | None = None) -> None:
    """Unfold the upper lid of a closing eye: smooth skin between the lashes and ring 2.

    A real lid that closes unfolds: its crease flattens and the lid is a smooth, lit surface
    with the lashes at its bottom edge. A warp only stretches the open lid's crease and lash
    shadow, which reads as an eye still open higher up. So the lid skin of the target (between
    the lash line and ring 2, minus a band at the margin that keeps the lashes) is replaced,
    in proportion to the closure, by its own smooth skin tone: a normalised blur that leaves
    dark pixels (lashes, crease) and the white of the eye out. Where the source showed the
    eyeball, the closing lid covers it the same way. A nearly closed eye gets its lash band
    (see the module docstring).

    Args:
        rgb: (h, w, 3) uint8 warped box at frame pixel `origin` (x0, y0), changed in place.
        alpha: (h, w) float32 alpha of the box, raised in place where the lid is painted.
        origin: frame pixel of the box's top-left.
        src, dst: (478, 2) float64 frame-pixel landmarks; `dst` after `adjust_lids`.
        opts: eye parameters.
        src_lids, dst_lids: `eye_lids(src)`, `eye_lids(dst)` when already computed.
    """
    if opts.lid_smoothing <= 0:
        return
    src_lids = eye_lids(src) if src_lids is None else src_lids
    dst_lids = eye_lids(dst) if dst_lids is None else dst_lids
    h_box, w_box = alpha.shape
    ox, oy = origin
    for eye, lids_s, lids_t in zip(EYES, src_lids, dst_lids, strict=True):
        closed = closure(lids_s, lids_t)
        c = closed * opts.lid_smoothing
        if c < 0.02:
            continue
        ix, w_eye = _index(eye), lids_t.frame[3]
        margin, top = dst[ix.margin], dst[ix.top]
        x0, y0 = np.floor(np.minimum(margin.min(0), top.min(0)) - 0.3 * w_eye).astype(int)
        x1, y1 = np.ceil(np.maximum(margin.max(0), top.max(0)) + 0.3 * w_eye).astype(int)
        x0, y0, x1, y1 = max(x0, ox), max(y0, oy), min(x1, ox + w_box), min(y1, oy + h_box)
        if x1 - x0 < 4 or y1 - y0 < 4:
            continue
        sl = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
        region = rgb[sl].astype(np.float32)
        poly = np.concatenate([margin, top]) - [x0, y0]
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        # and where the source showed the eyeball: a closed lid covers all of it (on a small
        # face the warp leaves a pixel or two of white at the corners otherwise)
        opening = src[ix.loop] - [x0, y0]
        cv2.fillPoly(mask, [np.round(opening * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
        band = 0.0
        if opts.lash_band > 0 and opts.closed_at > opts.closed_from:
            band = min(max((closed - opts.closed_from) / (opts.closed_at - opts.closed_from),
                           0.0), 1.0)
        if band > 0:   # and the target's own opening, a little wider: skin under the band
            loop = np.round((dst[ix.loop] - [x0, y0]) * 16).astype(np.int32)
            cv2.fillPoly(mask, [loop], 255, cv2.LINE_AA, shift=4)
            cv2.polylines(mask, [loop], True, 255, max(int(0.08 * w_eye + 0.5), 1),
                          cv2.LINE_AA, shift=4)
        lash = np.full(mask.shape, 255, np.uint8)
        cv2.polylines(lash, [np.round((margin - [x0, y0]) * 16).astype(np.int32)], False, 0,
                      1, cv2.LINE_8, shift=4)
        protect = max(0.08 * w_eye, 1.0)          # the lash line itself stays as warped...
        to_lash = cv2.distanceTransform(lash, cv2.DIST_L2, 3)
        keep = np.clip((to_lash - protect) / protect, 0.0, 1.0)
        if band > 0:                              # ... unless the band replaces it
            np.maximum(keep, band, out=keep)
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255.0, (0, 0), 0.06 * w_eye)
        weight = c * soft * keep
        luma = region @ np.array([0.299, 0.587, 0.114], np.float32)
        inside = mask > 127
        if inside.sum() < 4:
            continue
        med = _median(luma[inside])
        skin = ((luma > 0.9 * med) & (luma < 1.3 * med)).astype(np.float32)   # no lash, no white
        sigma = 0.12 * w_eye
        # (h, w) maps are copied to (h, w, 3) (cv2.merge, cheap) before they meet colours: numpy
        # broadcasts over a last axis of 3 several times slower, for the same numbers
        num = cv2.GaussianBlur(region * cv2.merge([skin] * 3), (0, 0), sigma)
        den = cv2.merge([cv2.GaussianBlur(skin, (0, 0), sigma)] * 3)
        smooth = np.where(den > 1e-3, num / np.maximum(den, 1e-3), region)
        wt = cv2.merge([weight] * 3)
        out = wt * smooth + (1 - wt) * region
        near = to_lash <= protect if band > 0 else None
        if near is not None and near.any():   # (the margin can lie past a frame edge)
            lashes = near & (luma < 0.75 * med)
            colour = (region[lashes].mean(0) if lashes.sum() >= 3
                      else 0.45 * smooth[near].mean(0))          # no dark lashes: shade skin
            ink = _lash_band(margin - [x0, y0], lids_t.frame, opts.lash_band, mask.shape) * band
            ink3 = cv2.merge([ink] * 3)
            out = ink3 * colour + (1 - ink3) * out
            weight = np.maximum(weight, ink)
        rgb[sl] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
        alpha[sl] = np.maximum(alpha[sl], weight.astype(np.float32))


def _lash_band(margin: np.ndarray, frame: Frame, thickness: float,
               shape: tuple[int, int]) -> np.ndarray:
    """(h, w) float32 coverage of a closed eye's lash band along the upper lid margin.

    The band hangs from the margin (lashes point down when the lid is closed), a quarter of it
    above; it is thickest in the middle and tapers towards the corners, with soft edges.
    """
    ey, w_eye = frame[2], frame[3]
    thick = max(thickness * w_eye, 1.0)
    along = np.linspace(0.0, 1.0, len(margin))
    profile = thick * (0.3 + 0.7 * np.sin(np.pi * along) ** 0.7)
    below = margin + profile[:, None] * ey
    above = margin - 0.25 * profile[:, None] * ey
    outline = np.concatenate([above, below[::-1]])
    ink = np.zeros(shape, np.uint8)
    cv2.fillPoly(ink, [np.round(outline * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    return cv2.GaussianBlur(ink.astype(np.float32) / 255.0, (0, 0), 0.2 * thick)


def _median(x: np.ndarray) -> np.floating:
    """np.median of a 1-D float array without NaNs, same value and type, without its overhead.

    The middle order statistic, or the mean of the middle two in the array's own precision
    (which is what np.median's mean of them computes).
    """
    k = len(x) // 2
    if len(x) % 2:
        return np.partition(x, k)[k]
    part = np.partition(x, (k - 1, k))
    return (part[k - 1] + part[k]) / x.dtype.type(2)
