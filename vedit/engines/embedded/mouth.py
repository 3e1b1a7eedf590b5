"""The mouth interior a warp cannot supply: what a source that never opened its mouth never showed.

When the target inner-lip gap is larger than the source's own interior can honestly be stretched
to, the cavity (the target's inner-lip polygon) is painted:

* from an exemplar of the same shot when one exists: a frame where this person's mouth was open
  wider, kept in mouth-aligned form (mouth corners fixed) and sampled so that upper teeth stay
  attached to the upper lip and lower teeth/tongue to the lower lip; colour matched to the
  person's lips;
* else from a synthesised interior: a shaded dark cavity, a band of upper teeth with tooth
  separations, lower teeth and a tongue, with soft edges and a fixed fine texture, its
  colours derived from the person's lips and skin.

Everything is drawn in mouth coordinates (u along the inner corners 78 -> 308, v across, both in
mouth widths, u = +-0.5 at the corners), so the painting moves with the lips from frame to frame.

What is learned about a person (exemplars, lip and skin colour) is learned once per shot, from
the whole shot (`choose_frames` picks frames from the landmarks alone, `learn_track` reads them),
and is never updated while rendering: a frame's pixels depend only on that frame, its target and
the shot, so chunks of a shot rendered apart join into exactly the unchunked result.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from .shape import mouth_gap
from .topology import INNER_LOOP, INNER_LOWER, INNER_UPPER, OUTER_LOWER, OUTER_UPPER

_CANVAS_SCALE = 160.0                 # exemplar canvas pixels per mouth width
_CANVAS_U = (-0.65, 0.65)
_CANVAS_V = (-0.45, 1.05)
_NOISE = np.random.default_rng(7).normal(0.0, 1.0, (48, 48)).astype(np.float32)
_NOISE = cv2.GaussianBlur(_NOISE, (0, 0), 0.8)
_NOISE /= _NOISE.std()
#: Lip chains as index arrays (fancy indexing with a tuple or list re-converts it every time).
_CHAINS = {name: np.array(chain) for name, chain in (
    ("ou", OUTER_UPPER), ("iu", INNER_UPPER), ("il", INNER_LOWER), ("ol", OUTER_LOWER))}
_OUTER = np.array(OUTER_UPPER + OUTER_LOWER)
_INNER_LOOP = np.array(INNER_LOOP)
#: Tooth separations of the synthesised upper and lower teeth, u (mouth widths).
_TOOTH_EDGES = (0.0, -0.15, 0.15, -0.27, 0.27)


@dataclass(frozen=True)
class MouthOptions:
    """Parameters of the mouth-interior fill.

    Attributes:
        fill: paint the interior at all (off: the warp's stretched source is left as it is).
        lip_keep: a lip's target thickness (outer to inner contour) is kept at least this
            fraction of its source thickness (see `keep_lip_thickness`).
        lip_keep_px: ... and at least this many pixels (never more than the source's own):
            a lip thinned to a pixel or two no longer reads as a lip on a small face.
        stretch_ok: target/source gap ratio up to which the source's own interior is used.
        exemplars: look for open-mouth exemplars of the same person in the same shot.
        exemplar_gap: smallest gap (face heights) for a frame to serve as an exemplar.
        cache_size: exemplars kept per track.
        exemplar_spacing: fewest frames between two exemplars of a track (one mouth opening
            gives one exemplar, not several nearly identical ones).
        colour_frames: frames, spread over the track, whose median lip and skin colours give
            the track's colour estimate.
        colour_tol: largest mean absolute difference (0-255) between the median lip colour
            of an exemplar and of the face it is used for; with the track id, frame size and
            face size this guards against an exemplar that no longer fits the face (lighting
            changed, the track was re-assigned).
        size_tol: largest ratio between the mouth widths (pixels) of exemplar and face.
    """

    fill: bool = True
    lip_keep: float = 0.6
    lip_keep_px: float = 3.5
    stretch_ok: float = 1.25
    exemplars: bool = True
    exemplar_gap: float = 0.05
    cache_size: int = 4
    exemplar_spacing: int = 5
    colour_frames: int = 6
    colour_tol: float = 25.0
    size_tol: float = 1.6


@dataclass(frozen=True)
class Exemplar:
    """An open mouth of the person, from a frame of the same shot, in mouth-aligned form.

    Attributes:
        canvas: (Hc, Wc, 3) uint8 RGB, the mouth area resampled to mouth coordinates.
        upper, lower: (11, 2) float64 inner lip chains, mouth coordinates.
        gap: inner-lip gap, face heights.
        lip_rgb: (3,) float32 median lip colour (0-255 RGB).
        width: mouth width, frame pixels.
        frame: the frame it was taken from.
    """

    canvas: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    gap: float
    lip_rgb: np.ndarray
    width: float
    frame: int


@dataclass(frozen=True)
class TrackMouth:
    """What the painter knows about one person of a shot, learned from the whole shot.

    Attributes:
        lip_rgb, skin_rgb: (3,) float32 median lip / skin colour (0-255 RGB), or None.
        exemplars: open-mouth exemplars, widest first.
    """

    lip_rgb: np.ndarray | None = None
    skin_rgb: np.ndarray | None = None
    exemplars: tuple[Exemplar, ...] = field(default_factory=tuple)


def mouth_frame(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Origin (mid inner corners), unit u, unit v (towards the chin), mouth width in pixels."""
    a, b = p[INNER_UPPER[0]], p[INNER_UPPER[-1]]
    d = b - a
    w = math.sqrt(d.dot(d))                   # np.linalg.norm(d), without its checks
    eu = d / max(w, 1e-9)
    ev = np.array([-eu[1], eu[0]])
    if (p[152] - (a + b) / 2) @ ev < 0:
        ev = -ev
    return (a + b) / 2, eu, ev, max(w, 1e-9)


def mouth_box(p: np.ndarray) -> tuple[int, int, int, int]:
    """Frame-pixel box (x0, y0, x1, y1) around the lips, padded by a quarter mouth width."""
    lips = p[_OUTER]
    pad = 0.25 * mouth_frame(p)[3] + 4.0
    x0, y0 = np.floor(lips.min(0) - pad).astype(int)
    x1, y1 = np.ceil(lips.max(0) + pad).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def keep_lip_thickness(src: np.ndarray, dst: np.ndarray, opts: MouthOptions) -> np.ndarray:
    """Target landmarks whose lips are not thinned past what a picture of that size can show.

    Eq. 8 adds the driving's lip thinning (lips stretch as a mouth opens wide) to the source's
    lips; on a small face that leaves a lip a pixel or two thick, which reads as skin or as
    the mouth's outline rather than as a lip. Each inner-lip point of the target is moved
    towards the cavity (never by more than 0.4 of the local gap) until the lip is at least
    min(source thickness, max(lip_keep * source thickness, lip_keep_px)) thick, measured
    across the mouth.

    Args:
        src, dst: (478, 2) float64 source and target landmarks, frame pixels.
        opts: mouth parameters.

    Returns:
        (478, 2) float64 copy of `dst`.
    """
    out = dst.copy()
    if opts.lip_keep <= 0 and opts.lip_keep_px <= 0:
        return out
    ms, mt = mouth_frame(src), mouth_frame(dst)
    vs = {name: _mouth_v(src[chain], ms)[1:-1] * ms[3] for name, chain in _CHAINS.items()}
    vt = {name: _to_mouth(dst[chain], mt)[1:-1] * mt[3] for name, chain in _CHAINS.items()}
    gap = np.maximum(vt["il"][:, 1] - vt["iu"][:, 1], 0.0)
    for inner, outer, sign in (("iu", "ou", 1.0), ("il", "ol", -1.0)):
        th_s = np.maximum(sign * (vs[inner] - vs[outer]), 0.0)
        floor = np.minimum(th_s, np.maximum(opts.lip_keep * th_s, opts.lip_keep_px))
        th_t = sign * (vt[inner][:, 1] - vt[outer][:, 1])
        shift = np.clip(floor - th_t, 0.0, 0.4 * gap)
        if shift.any():
            uv = vt[inner].copy()
            uv[:, 1] += sign * shift
            o, eu, ev, _ = mt
            out[_CHAINS[inner][1:-1]] = o + uv[:, :1] * eu + uv[:, 1:] * ev
    return out


def _to_mouth(pts: np.ndarray, mf) -> np.ndarray:
    o, eu, ev, w = mf
    r = np.asarray(pts, np.float64) - o
    out = np.empty(r.shape)
    out[..., 0] = r @ eu
    out[..., 1] = r @ ev
    out /= w
    return out


def _mouth_v(pts: np.ndarray, mf) -> np.ndarray:
    """`_to_mouth(pts, mf)[..., 1]`, the same numbers, without computing u."""
    o, _, ev, w = mf
    return (np.asarray(pts, np.float64) - o) @ ev / w


def _chain_fn(chain: np.ndarray):
    """v(u) of a lip chain, u made monotone."""
    u = np.maximum.accumulate(chain[:, 0])
    return lambda q: np.interp(q, u, chain[:, 1])


def _region_median(frame: np.ndarray, polys: list[np.ndarray], minus=None) -> np.ndarray | None:
    x0, y0 = np.floor(np.min([p.min(0) for p in polys], 0)).astype(int) - 1
    x1, y1 = np.ceil(np.max([p.max(0) for p in polys], 0)).astype(int) + 2
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    m = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for p in polys:
        cv2.fillPoly(m, [np.round(p - [x0, y0]).astype(np.int32)], 1)
    if minus is not None:
        cv2.fillPoly(m, [np.round(minus - [x0, y0]).astype(np.int32)], 0)
    px = frame[y0:y1, x0:x1][m > 0]
    return None if len(px) < 4 else np.median(px, 0).astype(np.float32)


def _lip_skin(frame: np.ndarray, p: np.ndarray):
    outer = p[list(OUTER_UPPER + OUTER_LOWER[-2:0:-1])]
    lip = _region_median(frame, [outer], minus=p[list(INNER_LOOP)])
    c = outer.mean(0)
    skin = _region_median(frame, [c + 1.6 * (outer - c)], minus=c + 1.15 * (outer - c))
    return lip, skin


def choose_frames(frames: np.ndarray, gaps: np.ndarray, widths: np.ndarray,
                  frontal: np.ndarray, opts: MouthOptions) -> tuple[list[int], list[int]]:
    """Pick a track's exemplar and colour frames from its landmarks alone.

    Args:
        frames: (P,) int frame indices where the face is present.
        gaps: (P,) inner-lip gap of each, face heights.
        widths: (P,) mouth width of each, frame pixels.
        frontal: (P,) bool, the head faces the camera closely enough to show the mouth.
        opts: mouth parameters.

    Returns:
        (exemplar frames, widest mouth first; colour frames, in increasing order).
    """
    frames = np.asarray(frames, np.int64)
    exemplars: list[int] = []
    if opts.fill and opts.exemplars:
        ok = frontal & (gaps >= opts.exemplar_gap) & (widths >= 8)
        for k in np.flatnonzero(ok)[np.argsort(-gaps[ok], kind="stable")]:
            if all(abs(int(frames[k]) - e) >= opts.exemplar_spacing for e in exemplars):
                exemplars.append(int(frames[k]))
            if len(exemplars) >= opts.cache_size:
                break
    pool = frames[frontal] if frontal.any() else frames
    n = min(opts.colour_frames, len(pool))
    colour = sorted({int(pool[round(q)]) for q in np.linspace(0, len(pool) - 1, n)}) if n else []
    return exemplars, colour


def learn_track(frames: dict[int, tuple[np.ndarray, np.ndarray]], exemplar_frames: list[int],
                colour_frames: list[int]) -> TrackMouth:
    """A person's exemplars and colours from chosen frames of the shot.

    Args:
        frames: frame index -> ((H, W, 3) uint8 RGB frame, (478, 2) float64 landmarks, pixels).
        exemplar_frames: frames to keep as exemplars, widest mouth first.
        colour_frames: frames whose lip and skin colours are pooled.
    """
    lips, skins = [], []
    for i in colour_frames:
        lip, skin = _lip_skin(*frames[i])
        if lip is not None:
            lips.append(lip)
        if skin is not None:
            skins.append(skin)
    exemplars = tuple(ex for ex in (_make_exemplar(*frames[i], i) for i in exemplar_frames)
                      if ex is not None)
    if not lips:                            # no frontal colour frame: the exemplars' lips
        lips = [ex.lip_rgb for ex in exemplars]
    return TrackMouth(np.median(lips, 0).astype(np.float32) if lips else None,
                      np.median(skins, 0).astype(np.float32) if skins else None, exemplars)


def _make_exemplar(frame: np.ndarray, p: np.ndarray, index: int) -> Exemplar | None:
    mf = mouth_frame(p)
    if mf[3] < 8:
        return None
    o, eu, ev, w = mf
    s = _CANVAS_SCALE / w
    cw = round((_CANVAS_U[1] - _CANVAS_U[0]) * _CANVAS_SCALE)
    ch = round((_CANVAS_V[1] - _CANVAS_V[0]) * _CANVAS_SCALE)
    lin = np.stack([eu * s, ev * s])                       # frame -> canvas, linear part
    off = -lin @ o - [_CANVAS_U[0] * _CANVAS_SCALE, _CANVAS_V[0] * _CANVAS_SCALE]
    canvas = cv2.warpAffine(frame, np.hstack([lin, off[:, None]]), (cw, ch),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    lip, _ = _lip_skin(frame, p)
    if lip is None:
        return None
    canvas.flags.writeable = False
    return Exemplar(canvas, _to_mouth(p[list(INNER_UPPER)], mf),
                    _to_mouth(p[list(INNER_LOWER)], mf), mouth_gap(p), lip, w, index)


class MouthPainter:
    """Fills mouth cavities. Stateless: what it knows of a person comes in as a `TrackMouth`."""

    def __init__(self, opts: MouthOptions) -> None:
        self.opts = opts

    def paint(self, known: TrackMouth | None, frame: np.ndarray, src: np.ndarray,
              dst: np.ndarray, patch: np.ndarray, alpha: np.ndarray,
              origin: tuple[int, int]) -> None:
        """Paint the target cavity into `patch` and raise `alpha` there (both in place).

        Args:
            known: the person's shot-wide exemplars and colours; None (no `prepare_shot`)
                takes the colours from this frame alone and uses no exemplar.
            frame: (H, W, 3) uint8 RGB source frame.
            src, dst: (478, 2) float64 source and target landmarks, frame pixels.
            patch: (h, w, 3) uint8 warped pixels of the box at `origin` (x0, y0).
            alpha: (h, w) float32 alpha of the box.
        """
        if not self.opts.fill:
            return
        g_t, g_s = mouth_gap(dst), mouth_gap(src)
        need = min(max((g_t - self.opts.stretch_ok * g_s) / max(0.3 * g_t, 1e-6), 0.0), 1.0)
        if need <= 0.0:
            return
        # this frame's own colours: for a person without shot-wide ones, and to check that an
        # exemplar still fits (measuring them costs more than painting a small mouth)
        lip = skin = None
        if known is None or known.lip_rgb is None or known.exemplars:
            lip, skin = _lip_skin(frame, src)
        tr = known if known is not None and known.lip_rgb is not None else TrackMouth(lip, skin)
        if tr.lip_rgb is None:
            return
        loop = dst[_INNER_LOOP]
        x0, y0 = np.floor(loop.min(0)).astype(int) - 2
        x1, y1 = np.ceil(loop.max(0)).astype(int) + 3
        ox, oy = origin
        h, w = alpha.shape
        x0, y0 = max(x0, ox), max(y0, oy)
        x1, y1 = min(x1, ox + w), min(y1, oy + h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return
        mf = mouth_frame(dst)
        # each pixel's offset from the mouth origin, built by broadcasting (no meshgrid), and
        # its mouth coordinates as two contiguous maps (what `_to_mouth` computes)
        offset = np.empty((y1 - y0, x1 - x0, 2))
        offset[..., 0] = np.arange(x0, x1, dtype=np.float64) - mf[0][0]
        offset[..., 1] = (np.arange(y0, y1, dtype=np.float64) - mf[0][1])[:, None]
        r = offset.reshape(-1, 2)
        u, v = ((r @ axis / mf[3]).reshape(offset.shape[:2]) for axis in mf[1:3])
        up = _to_mouth(dst[_CHAINS["iu"]], mf)
        lo = _to_mouth(dst[_CHAINS["il"]], mf)
        v_up, v_lo = _chain_fn(up)(u), _chain_fn(lo)(u)
        wpx = mf[3]
        inside = np.clip(np.minimum(v - v_up, v_lo - v) * wpx + 0.5, 0.0, 1.0)
        inside *= np.abs(u) < 0.5
        if inside.max() <= 0:
            return
        gap = np.maximum(v_lo - v_up, 1e-6)
        interior = self._synth(u, v, v_up, v_lo, gap, wpx, tr)
        ex = self._exemplar(tr, lip, mouth_frame(src)[3], g_t)
        if ex is not None:
            e_img, weight = self._sample(ex, u, v, v_up, v_lo, gap, tr, g_t)
            interior = weight * e_img + (1.0 - weight) * interior
        interior = cv2.GaussianBlur(interior, (0, 0), 0.6)
        m = (need * inside).astype(np.float32)
        m3 = cv2.merge([m] * 3)               # faster than numpy's broadcast over 3 channels
        sl = (slice(y0 - oy, y1 - oy), slice(x0 - ox, x1 - ox))
        patch[sl] = np.clip(m3 * interior + (1.0 - m3) * patch[sl] + 0.5, 0, 255).astype(np.uint8)
        alpha[sl] = np.maximum(alpha[sl], m)

    def _exemplar(self, tr: TrackMouth, lip: np.ndarray | None, width: float,
                  g_t: float) -> Exemplar | None:
        if lip is None:
            return None
        for ex in tr.exemplars:
            same_colour = float(np.abs(ex.lip_rgb - lip).mean()) <= self.opts.colour_tol
            ratio = max(ex.width, width) / max(min(ex.width, width), 1e-6)
            if same_colour and ratio <= self.opts.size_tol and ex.gap >= 0.6 * g_t:
                return ex
        return None

    def _sample(self, ex: Exemplar, u, v, v_up, v_lo, gap, tr: TrackMouth, g_t: float):
        t = np.clip((v - v_up) / gap, 0.0, 1.0)
        eu = np.clip(u, ex.upper[0, 0], ex.upper[-1, 0])
        e_up, e_lo = _chain_fn(ex.upper)(eu), _chain_fn(ex.lower)(eu)
        w = t * t * (3 - 2 * t)
        ve = (1 - w) * (e_up + (v - v_up)) + w * (e_lo - (v_lo - v))
        mx = ((eu - _CANVAS_U[0]) * _CANVAS_SCALE).astype(np.float32)
        my = ((ve - _CANVAS_V[0]) * _CANVAS_SCALE).astype(np.float32)
        img = cv2.remap(ex.canvas, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        gain = np.clip(tr.lip_rgb / np.maximum(ex.lip_rgb, 1.0), 0.8, 1.25)
        weight = np.clip((ex.gap / max(g_t, 1e-6) - 0.6) / 0.3, 0, 1)
        return img.astype(np.float32) * gain, float(weight)

    @staticmethod
    def _synth(u, v, v_up, v_lo, gap, wpx, tr: TrackMouth) -> np.ndarray:
        """(h, w, 3) float32 RGB synthesised interior at mouth coordinates (u, v).

        Colours are drawn plane by plane, (3, h, w): a (h, w, 1) x (3,) product loops over
        the short last axis and costs several times more, for the same numbers.
        """
        lip = tr.lip_rgb.astype(np.float32)
        skin = tr.skin_rgb.astype(np.float32) if tr.skin_rgb is not None else lip
        luma = float(skin @ [0.299, 0.587, 0.114])
        t = np.clip((v - v_up) / gap, 0.0, 1.0)
        du = (v - v_up) * wpx                      # pixels below the upper lip
        dl = (v_lo - v) * wpx                      # pixels above the lower lip
        gpx = gap * wpx
        # cavity: dark, reddish, darkest at the back (middle) and towards the corners
        depth = np.sin(np.pi * t) * np.clip(1.0 - (2 * u) ** 2, 0, 1) ** 0.3
        cav = _planes(lip * np.array([0.5, 0.36, 0.36], np.float32)) * (1.0 - 0.45 * depth)
        noise = cv2.remap(_NOISE, ((u + 0.5) * 47).astype(np.float32),
                          (np.clip(v, -1, 2) * 47 + 12).astype(np.float32) % 47,
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
        out = cav * (1.0 + 0.06 * noise)
        # tongue: low in the cavity, mostly behind the lower teeth, in the shade of the lips
        tongue_rgb = 0.72 * lip + 0.28 * np.array([205.0, 105.0, 115.0], np.float32)
        tc_v = v_lo - 0.05 * gap
        ry = np.maximum(0.35 * gap, 1e-6)
        e = (u / 0.30) ** 2 + ((v - tc_v) / ry) ** 2
        tongue = np.clip((1.0 - e) * 4.0, 0, 1) * np.clip((gpx - 3.0) / 6.0, 0, 1)
        top = np.clip((tc_v - v) / ry, 0, 1)
        tcol = _planes(tongue_rgb) * (0.45 + 0.25 * top + 0.05 * noise)
        out = tongue * tcol + (1 - tongue) * out
        # teeth: lit like the skin (its brightness and the light's warmth), visible between
        # the buccal corridors. Heights follow the anatomy: upper incisor crowns show up to
        # ~0.2 of the mouth's width, lower ones ~0.1, so a moderate opening is mostly teeth, a
        # wide one shows the dark cavity between them.
        k = min(max(0.6 + 0.5 * luma / 255.0, 0.75), 1.0)
        lit = np.clip(skin * (225.0 / max(luma, 1.0)), 0, 255)
        teeth_rgb = _planes((0.4 * lit + 0.6 * np.array([236.0, 228.0, 210.0], np.float32)) * k)
        # separations: the nearest edge's dip, one (h, w) array per edge (a max over a short
        # last axis is slow)
        near_edge = None
        for edge in _TOOTH_EDGES:
            g = np.exp(-(((u - edge) * wpx / 0.7) ** 2))
            near_edge = g if near_edge is None else np.maximum(near_edge, g, out=near_edge)
        sep = 1.0 - 0.22 * near_edge
        across = np.clip(1.0 - (u / 0.42) ** 2, 0, 1)
        # lower teeth: a band over the lower lip, in the shade of the upper lip
        hb = np.minimum(0.3 * gpx, 0.1 * wpx) * np.sqrt(np.clip(1 - (u / 0.3) ** 2, 0, 1))
        lower = np.clip(hb - dl + 0.5, 0, 1) * np.clip(hb - 0.8, 0, 1)
        lcol = teeth_rgb * (0.6 + 0.2 * np.clip((hb - dl) / np.maximum(hb, 1e-6), 0, 1)
                            ) * (0.7 + 0.3 * across) * sep
        out = lower * lcol + (1 - lower) * out
        # upper teeth: a band under the upper lip, shorter and darker towards the corners
        ht = np.minimum(0.55 * gpx, 0.19 * wpx) * np.sqrt(across)
        upper = np.clip(ht - du + 0.5, 0, 1)
        shade = (0.55 + 0.45 * across) * np.clip(0.8 + 0.2 * du / np.maximum(ht * 0.3, 1), 0, 1)
        ucol = teeth_rgb * (shade * sep * (1.0 + 0.02 * noise))
        out = upper * ucol + (1 - upper) * out
        # soft shadow where the lips fold in (a pixel: wider would outline a small mouth)
        rim = np.clip(np.minimum(du, dl), 0, 1)
        out *= 0.85 + 0.15 * rim
        return out.transpose(1, 2, 0).astype(np.float32, order="C")


def _planes(rgb: np.ndarray) -> np.ndarray:
    """(3,) colour -> (3, 1, 1), to multiply (h, w) maps into (3, h, w) colour planes."""
    return rgb[:, None, None]
