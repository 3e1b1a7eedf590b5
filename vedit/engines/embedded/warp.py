"""Dense backward warp of a frame so its landmarks move from source to target positions.

The displacement is piecewise affine on a Delaunay triangulation of the target landmarks plus
two rings of fixed anchors a little outside the face outline (radially from the outline's
centre, see `_rings`), so it is zero from the inner ring outwards; between the outline and the
inner ring it fades along a smoothstep. The rings are placed in face sizes, not in multiples
of the outline, because what must stay untouched is measured that way: a head mask is the
face's landmark hull dilated by a fraction of the face size (a quarter in the project's
yardstick), and a radial offset of m face sizes never lies further than m from the hull. It
is evaluated on a coarse grid (one sample per `grid_step` pixels at most, finer on small
faces, at block centres), blurred a little (the kinks of a piecewise-affine field at its
triangle edges draw a brow or hairline that moves unlike its neighbours as a zigzag) and
upsampled bilinearly, except in small boxes around the eyes and lips, sampled at full
resolution: a lid or lip fold is a pixel wide and a 4-pixel grid would smear the eyeball or lip
across it. Outside the face outline the field is blurred more (no jagged hair edges), then
faded smoothly to exactly zero at the outer ring (a hard cut of the blur's tail would be a
seam), and the full-resolution field is cut at the outer ring as well, so nothing
beyond it ever moves. Backward mapping (each output pixel samples the source, bicubic) cannot
leave holes, and a continuous field cannot tear, whatever the landmarks do.

A field can be gated to the lower face (`lower_gate`): multiplied, at full resolution, by a
weight that is exactly 0 above a line across the face and outside a region around the lower
face, so a mouth-only edit cannot leak into the eyes, hair, ears or background through the
coarse grid, the outline blur, the anchor rings or a long triangle.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np
from scipy.spatial import Delaunay

from .topology import FACE_CHIN, FACE_OVAL, FACE_TOP


@dataclass(frozen=True)
class WarpOptions:
    """Parameters of the dense warp.

    Attributes:
        grid_step: largest number of pixels between samples of the coarse displacement grid.
        grid_per_face: samples of the coarse grid per face size at least (smaller faces get a
            finer step, down to 1 pixel): a fixed 4-pixel grid is a handful of samples across
            a small face's mouth or the short fade outside its outline.
        inner_ring: fixed anchors (zero displacement) at least this many face sizes (the
            larger side of the source landmarks' box) outside the source face outline...
        reach: ... and at most this many (so with `outer_gap` the warp stays well inside a
            head mask of the source hull dilated by a quarter face size)...
        min_fade: ... and at least this many outside the target outline, more where the
            outline moves (see `_rings`).
        outer_gap: the outer ring lies this many face sizes beyond the inner one: the field
            fades to zero between the rings, the warp region is the outer ring's bounding
            box and nothing moves beyond it.
        blur: sigma of the displacement blur outside the face outline, in face heights.
        inner_blur: sigma of the blur of the coarse field inside it, in face heights (the
            full-resolution eye and lip boxes are not blurred this way).
        fine_blur: sigma (pixels) of the blur of full-resolution boxes (anti-aliases folds).
        cubic: resample with bicubic instead of bilinear interpolation (a bilinear half-pixel
            shift is a 2-tap box blur, which softens small eyes enough to read as closing).
        alpha_floor: displacement (pixels) below which a pixel counts as not moved (alpha 0).
        alpha_ramp: pixels of displacement over which alpha rises from 0 to 1.
    """

    grid_step: int = 4
    grid_per_face: float = 70.0
    inner_ring: float = 0.10
    reach: float = 0.15
    min_fade: float = 0.08
    outer_gap: float = 0.06
    blur: float = 0.04
    inner_blur: float = 0.02
    fine_blur: float = 0.7
    cubic: bool = True
    alpha_floor: float = 0.05
    alpha_ramp: float = 0.5


@dataclass(frozen=True)
class Field:
    """A backward displacement field over the box [x0, x0 + w) x [y0, y0 + h) of a frame.

    Attributes:
        x0, y0: top-left of the box in frame pixels.
        w, h: box size in pixels (a multiple of `step`, possibly past the frame edge).
        step: coarse grid step; coarse sample (j, i) sits at pixel (x0 + step*j + (step-1)/2, ...).
        d: (h/step, w/step, 2) float32 coarse displacement (source = target + d), pixels.
        fine: name -> (x, y, (h', w', 2) float32) full-resolution displacement of a small box
            at frame pixel (x, y) where the coarse grid cannot follow the landmarks (lid and lip
            folds are a pixel wide); it replaces the upsampled field there, feathered at its edge.
        gate: optional (h, w) float32 weight the full-resolution field is multiplied by.
        support: optional (N, 2) polygon, frame pixels: the full-resolution field is exactly 0
            outside it.
    """

    x0: int
    y0: int
    w: int
    h: int
    step: int
    d: np.ndarray
    fine: dict = field(default_factory=dict)
    gate: np.ndarray | None = None
    support: np.ndarray | None = None

    def to_coarse(self, pts: np.ndarray) -> np.ndarray:
        """(N, 2) frame pixels -> (N, 2) coarse-grid coordinates (float)."""
        c = (self.step - 1) / 2.0
        return (np.asarray(pts, np.float64) - [self.x0 + c, self.y0 + c]) / self.step

    def full(self) -> np.ndarray:
        """(h, w, 2) float32 displacement at full resolution."""
        out = cv2.resize(self.d, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        for x, y, d in self.fine.values():
            h, w = d.shape[:2]
            _paste_feathered(out[y - self.y0:y - self.y0 + h, x - self.x0:x - self.x0 + w], d)
        weight = self.gate
        if self.support is not None:
            inside = np.zeros((self.h, self.w), np.float32)
            poly = np.round((self.support - [self.x0, self.y0]) * 16).astype(np.int32)
            cv2.fillPoly(inside, [poly], 1.0, shift=4)
            # inside is 0 or 1, so the field times (gate times inside) is bit for bit the
            # field times the gate, then times inside
            weight = inside if weight is None else weight * inside
        if weight is not None:
            # same shapes: numpy broadcasts over a last axis of 2 several times slower
            out *= cv2.merge([weight, weight])
        return out


def lower_gate(fld: Field, origin: np.ndarray, down: np.ndarray, start: float, full: float,
               region: np.ndarray, feather: float) -> Field:
    """The field with nothing moving above a line across the face nor outside `region`.

    Args:
        fld: a field.
        origin: (2,) frame pixel the distances along `down` are measured from.
        down: (2,) unit vector pointing down the face.
        start: distance along `down` up to which the field is exactly 0.
        full: distance from which the line lets the field through unchanged (> start).
        region: (N, 2) closed polygon, frame pixels: exactly 0 outside, unchanged deeper
            inside than `feather` pixels, a smooth ramp in between.
        feather: width of the ramp at the region's edge, pixels.
    """
    xs = (np.arange(fld.w) + fld.x0 - origin[0]) * down[0]
    ys = (np.arange(fld.h) + fld.y0 - origin[1]) * down[1]
    # box-sized arrays are worked on in place (a fresh one per operation costs as much again)
    t = ys[:, None] + xs[None, :]
    t -= start
    t /= full - start
    _smoothstep_(np.clip(t, 0.0, 1.0, out=t))
    inside = np.zeros((fld.h, fld.w), np.uint8)
    poly = np.round((np.asarray(region, np.float64) - [fld.x0, fld.y0]) * 16).astype(np.int32)
    cv2.fillPoly(inside, [poly], 1, shift=4)
    r = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    r /= max(feather, 1.0)
    _smoothstep_(np.clip(r, 0.0, 1.0, out=r))
    gate = np.multiply(t, r, out=np.empty((fld.h, fld.w), np.float32), casting="unsafe")
    return replace(fld, gate=gate)


def _smoothstep_(x: np.ndarray) -> np.ndarray:
    """x = x * x * (3 - 2 * x), in place (the same operations in the same order)."""
    rest = np.multiply(x, 2.0)
    np.subtract(3.0, rest, out=rest)
    x *= x
    x *= rest
    return x


_FEATHER = 3.0
_FADE_STEPS = (0.25, 0.5, 0.75)


def _paste_feathered(under: np.ndarray, box: np.ndarray) -> None:
    """under = wt * box + (1 - wt) * under, wt = min((distance to box's edge + 1) / _FEATHER, 1).

    Blended only over the outer pixels, where wt < 1; copied inside, which gives the same values.
    """
    h, w = box.shape[:2]
    ramp_y, ramp_x = _ramp(h)[:, None, None], _ramp(w)[None, :, None]
    b = int(np.ceil(_FEATHER)) - 1                         # width of the ring where wt < 1
    rings = ((np.s_[:b], np.s_[:]), (np.s_[h - b:], np.s_[:]),
             (np.s_[b:h - b], np.s_[:b]), (np.s_[b:h - b], np.s_[w - b:]))
    if min(h, w) > 2 * b:
        under[b:h - b, b:w - b] = box[b:h - b, b:w - b]
    else:                                                 # all of it is ring
        rings = ((np.s_[:], np.s_[:]),)
    for ys, xs in rings:
        wt = np.minimum(np.minimum(ramp_y[ys], ramp_x[:, xs]), 1.0)
        under[ys, xs] = wt * box[ys, xs] + (1 - wt) * under[ys, xs]


def _ramp(n: int) -> np.ndarray:
    """(n,) float64 (distance to the nearer end + 1) / _FEATHER, > 0."""
    return np.minimum(np.arange(n) + 1, np.arange(n)[::-1] + 1) / _FEATHER


class _Mesh:
    """Piecewise-affine interpolation of control-point displacements (Delaunay triangles).

    Sampling rasterises the triangles as index maps on the requested grid (deterministic and a
    few milliseconds, unlike a point-location walk), largest last so a sliver never claims the
    samples of a proper triangle; barycentric weights are clipped to the triangle, so samples
    the rasteriser gives a triangle they lie just outside of are never extrapolated (slivers of
    clamped lids would otherwise fling them far). Samples outside every triangle get 0.
    What does not depend on the grid (each triangle's barycentric weights as affine functions
    of frame pixels, its vertices' displacements) is computed once per mesh, not per grid, as
    one table with a column per triangle: a grid gathers all of it with one `take`.
    """

    def __init__(self, ctrl: np.ndarray, disp: np.ndarray) -> None:
        self.simplices = Delaunay(ctrl, qhull_options="QJ Qbb").simplices
        self.tri = tri = ctrl[self.simplices]                                # (T, 3, 2)
        a, e1, e2 = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
        det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
        self.area = np.abs(det)
        # (tri.min(1) reduces over an axis of 3, several times slower)
        self.lo = np.minimum(np.minimum(tri[:, 0], tri[:, 1]), tri[:, 2])
        self.hi = np.maximum(np.maximum(tri[:, 0], tri[:, 1]), tri[:, 2])
        # the last column is "no triangle": weights 0 (det 1) and displacements 0, so a sample
        # outside the mesh comes out exactly 0
        t = len(tri)
        table = np.zeros((_ROWS, t + 1))
        table[_DET, t] = 1.0
        # weights of vertices 1 and 2 at frame pixel (x, y): (l[0] * x + l[1] * y + l[2]) / det
        table[_L1, :t] = e2[:, 1], -e2[:, 0], a[:, 1] * e2[:, 0] - a[:, 0] * e2[:, 1]
        table[_L2, :t] = -e1[:, 1], e1[:, 0], a[:, 0] * e1[:, 1] - a[:, 1] * e1[:, 0]
        table[_DET, :t] = det
        table[_DX, :t] = disp[self.simplices, 0].T
        table[_DY, :t] = disp[self.simplices, 1].T
        self.table = table

    def sample(self, origin: np.ndarray, step: float, shape: tuple[int, int]) -> np.ndarray:
        """(ny, nx, 2) float32 displacement at pixels origin + step * (j, i)."""
        ny, nx = shape
        g_lo, g_hi = (self.lo - origin) / step, (self.hi - origin) / step
        near = np.flatnonzero((g_hi[:, 0] >= -1) & (g_lo[:, 0] <= nx) &
                              (g_hi[:, 1] >= -1) & (g_lo[:, 1] <= ny))
        near = near[np.argsort(self.area[near])]
        fixed = np.round((self.tri[near] - origin) / step * 16).astype(np.int32)
        index = np.full(shape, -1, np.int32)
        fill = cv2.fillConvexPoly
        for i, poly in enumerate(fixed):
            fill(index, poly, i, 8, 4)        # positional (lineType, shift): keywords cost more
        # the table of the near triangles in drawing order, then "no triangle" for index -1
        table = self.table[:, np.append(near, -1)]
        # a degenerate triangle's determinant is floored in grid units, as a grid sees it
        det = table[_DET]
        table[_DET] = np.where(np.abs(det) < 1e-9 * step * step, 1e-9 * step * step, det)
        at = table.take(index, axis=1)                                        # (rows, ny, nx)
        px = origin[0] + step * np.arange(nx)
        py = (origin[1] + step * np.arange(ny))[:, None]
        (a1, b1, c1), (a2, b2, c2), det = at[_L1], at[_L2], at[_DET]
        l1 = (a1 * px + b1 * py + c1) / det
        l2 = (a2 * px + b2 * py + c2) / det
        l0 = 1.0 - l1 - l2
        for lam in (l0, l1, l2):
            np.clip(lam, 0.0, 1.0, out=lam)
        total = l0 + l1 + l2
        out = np.empty((ny, nx, 2), np.float32)
        for c, rows in enumerate((_DX, _DY)):
            d0, d1, d2 = at[rows]
            out[..., c] = (l0 * d0 + l1 * d1 + l2 * d2) / total
        return out


# rows of `_Mesh.table`
_L1, _L2, _DET, _DX, _DY = slice(0, 3), slice(3, 6), 6, slice(7, 10), slice(10, 13)
_ROWS = 13


def _rings(src: np.ndarray, dst: np.ndarray, size: float, opts: WarpOptions):
    """The two anchor rings, along the rays from the source outline's centre.

    The inner ring lies outside the target outline by twice the outline's displacement there
    (the smoothstep fade's steepest slope is 1.5 times the displacement over that room, so a
    turning or rolling head's surroundings do not fold), at least `min_fade`; and at least
    `inner_ring` outside the source outline, at most `reach` (unless the target outline
    itself needs more). The outer ring lies `outer_gap` further out. All in face sizes.
    """
    oval_s, oval_d = src[list(FACE_OVAL)], dst[list(FACE_OVAL)]
    centre = oval_s.mean(0)
    rs, rd = oval_s - centre, oval_d - centre
    ns, nd = np.linalg.norm(rs, axis=1), np.linalg.norm(rd, axis=1)
    far = np.where((nd > ns)[:, None], rd, rs)
    ray = far / np.maximum(np.maximum(ns, nd), 1e-9)[:, None]
    room = np.maximum(2.0 * np.linalg.norm(oval_s - oval_d, axis=1), opts.min_fade * size)
    inner = np.maximum(ns + opts.inner_ring * size, nd + room)
    inner = np.minimum(inner, np.maximum(ns + opts.reach * size, nd + opts.min_fade * size))
    return centre + inner[:, None] * ray, centre + (inner + opts.outer_gap * size)[:, None] * ray


def build_field(src: np.ndarray, dst: np.ndarray, use: np.ndarray, frame_hw: tuple[int, int],
                opts: WarpOptions, extra: tuple[np.ndarray, np.ndarray] | None = None,
                fine_boxes: dict | None = None) -> Field | None:
    """Backward field that carries frame content at `src` to `dst`.

    Args:
        src, dst: (478, 2) float64 landmark positions in frame pixels, before and after.
        use: (478,) bool, the landmarks that act as control points (irises are left out).
        frame_hw: (H, W) of the frame.
        opts: warp parameters.
        extra: optional ((M, 2) target, (M, 2) source) additional control points, pixels.
        fine_boxes: name -> (x0, y0, x1, y1) frame-pixel boxes (inside the face) to sample at
            full resolution.

    Returns:
        The field over the outer ring's box clipped to the frame, or None when that is empty.
    """
    h_img, w_img = frame_hw
    size = float(np.ptp(src, axis=0).max())
    step = int(np.clip(round(size / opts.grid_per_face), 1, max(opts.grid_step, 1)))
    ring_a, ring_b = _rings(src, dst, size, opts)
    x0, y0 = np.floor(ring_b.min(0)).astype(int)
    x1, y1 = np.ceil(ring_b.max(0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, w_img), min(y1, h_img)
    if x1 - x0 < 2 * step or y1 - y0 < 2 * step:
        return None
    nx, ny = -(-(x1 - x0) // step), -(-(y1 - y0) // step)

    ex_t, ex_s = extra if extra is not None else (np.zeros((0, 2)), np.zeros((0, 2)))
    # between the outline and the inner ring the outline's displacement fades along a
    # smoothstep (sampled by a few rings of controls): no kink at the outline, where a linear
    # fade over so short a distance would bend hair and bias the outline's own samples
    oval_t = dst[list(FACE_OVAL)]
    oval_d = src[list(FACE_OVAL)] - oval_t
    fades = [(oval_t + t * (ring_a - oval_t), (1.0 - t * t * (3.0 - 2.0 * t)) * oval_d)
             for t in _FADE_STEPS]
    ctrl_t = np.concatenate([dst[use], ex_t, *(p for p, _ in fades), ring_a, ring_b])
    disp = np.concatenate([src[use] - dst[use], ex_s - ex_t, *(v for _, v in fades),
                           np.zeros((2 * len(ring_a), 2))])
    mesh = _Mesh(ctrl_t, disp)
    origin = np.array([x0, y0]) + (step - 1) / 2.0
    d = mesh.sample(origin, step, (ny, nx))

    def to_coarse(p):
        return (np.asarray(p, np.float64) - origin) / step

    face_h = float(np.linalg.norm(dst[FACE_TOP] - dst[FACE_CHIN]))
    face = np.zeros((ny, nx), np.uint8)
    oval = dst[list(FACE_OVAL)]
    oval = oval.mean(0) + (oval - oval.mean(0)) * 1.06      # so the outline itself is unblurred
    cv2.fillPoly(face, [np.round(to_coarse(oval) * 16).astype(np.int32)],
                 255, lineType=cv2.LINE_AA, shift=4)
    face = cv2.GaussianBlur(face.astype(np.float32) / 255.0, (0, 0), 1.0)
    face = cv2.merge([face, face])          # numpy broadcasts over a last axis of 2 slowly
    sigma = max(opts.blur * face_h / step, 0.5)
    blurred = cv2.GaussianBlur(d, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    if opts.inner_blur > 0:
        # piecewise affine is only continuous: where neighbouring landmarks move very
        # differently (a raised brow under a still hairline, a turning temple) every triangle
        # bends an edge its own way and a straight brow or hair line comes out as a zigzag
        d = cv2.GaussianBlur(d, (0, 0), max(opts.inner_blur * face_h / step, 0.5),
                             borderType=cv2.BORDER_CONSTANT)
    d = face * d + (1.0 - face) * blurred
    # fade to 0 between the rings (the blur's tail reaches past the inner one), reaching 0 a
    # sample and a half inside the outer ring so the bilinear upsampling stays inside it too
    outer = np.zeros((ny, nx), np.uint8)
    cv2.fillPoly(outer, [np.round(to_coarse(ring_b) * 16).astype(np.int32)], 1, shift=4)
    depth = cv2.distanceTransform(outer, cv2.DIST_L2, 3) - 1.5
    fade = max(opts.outer_gap * size / step - 1.5, 1.0)
    r = _smoothstep_(np.clip(depth / fade, 0.0, 1.0))
    d *= cv2.merge([r, r])

    fine = {}
    for name, (bx0, by0, bx1, by1) in (fine_boxes or {}).items():
        bx0, by0 = max(int(bx0), x0), max(int(by0), y0)
        bx1, by1 = min(int(bx1), x0 + nx * step), min(int(by1), y0 + ny * step)
        if bx1 - bx0 > 2 * _FEATHER and by1 - by0 > 2 * _FEATHER:
            d_fine = mesh.sample(np.array([bx0, by0], float), 1.0, (by1 - by0, bx1 - bx0))
            if opts.fine_blur > 0:
                d_fine = cv2.GaussianBlur(d_fine, (0, 0), opts.fine_blur)
            fine[name] = (bx0, by0, d_fine)
    return Field(x0, y0, nx * step, ny * step, step, d.astype(np.float32), fine,
                 support=ring_b)


def apply_field(frame: np.ndarray, field: Field,
                cubic: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Warp the box of `frame` with `field`.

    Returns:
        (h', w', 3) uint8 RGB warped box and (h', w', 2) float32 displacement, both cut to the
        part of the box inside the frame.
    """
    h_img, w_img = frame.shape[:2]
    d = field.full()
    h, w = min(field.h, h_img - field.y0), min(field.w, w_img - field.x0)
    d = d[:h, :w]
    # a pixel that does not move samples itself exactly (an integer position, where the
    # interpolation weights are 1 on that pixel and 0 elsewhere), so a gated field, which moves
    # only a part of its box, is remapped only over the part where the gate is not 0
    y0, y1, x0, x1 = 0, h, 0, w
    if field.gate is not None:
        open_ = field.gate[:h, :w] > 0
        rows, cols = np.flatnonzero(open_.any(1)), np.flatnonzero(open_.any(0))
        if len(rows) == 0:
            return frame[field.y0:field.y0 + h, field.x0:field.x0 + w].copy(), d
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    xs = np.arange(field.x0 + x0, field.x0 + x1, dtype=np.float32)
    ys = np.arange(field.y0 + y0, field.y0 + y1, dtype=np.float32)
    map_x = d[y0:y1, x0:x1, 0] + xs[None, :]
    map_y = d[y0:y1, x0:x1, 1] + ys[:, None]
    inter = cv2.INTER_CUBIC if cubic else cv2.INTER_LINEAR
    moved = cv2.remap(frame, map_x, map_y, inter, borderMode=cv2.BORDER_REPLICATE)
    if (y1 - y0, x1 - x0) == (h, w):
        return moved, d
    out = frame[field.y0:field.y0 + h, field.x0:field.x0 + w].copy()
    out[y0:y1, x0:x1] = moved
    return out, d


def alpha_from_displacement(d: np.ndarray, opts: WarpOptions) -> np.ndarray:
    """(h, w) float32 alpha: exactly 0 where |d| <= alpha_floor, 1 past alpha_floor + ramp."""
    # numpy, not cv2.magnitude: on equal input that gave results a rounding step apart from call
    # to call (its SIMD and scalar paths round differently, and how the array is split between
    # them varies), so chunked renders would not join bit for bit
    # in place, the same operations as np.clip((|d| - floor) * (1 / ramp), 0, 1)
    alpha = np.square(d[..., 0])
    alpha += np.square(d[..., 1])
    np.sqrt(alpha, out=alpha)
    alpha -= opts.alpha_floor
    alpha *= 1.0 / opts.alpha_ramp
    return np.clip(alpha, 0.0, 1.0, out=alpha)
