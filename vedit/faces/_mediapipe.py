"""The only module that talks to MediaPipe: full-frame detection and per-face mesh.

Results leave as plain numpy arrays in frame pixels of the upright picture. Both legacy
``mp.solutions`` graphs are held open for one video and closed by ``close()`` (or ``with``),
because each graph owns threads and buffers that must not outlive the tracker.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import types
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

# MediaPipe's C++ side logs to stderr; keep a render log readable (set before the import).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import cv2
import numpy as np

from vedit.faces.geometry import nms


def _import_mediapipe() -> types.ModuleType:
    """``import mediapipe``, without importing matplotlib on the way.

    MediaPipe's package imports every legacy solution, and its drawing helpers import
    matplotlib.pyplot: a quarter of a second of every render's start (a farm starts thousands)
    for plotting code vedit never calls. Unless matplotlib is already loaded, empty stand-ins
    take its place during the import and are removed after it, so a later ``import
    matplotlib`` anywhere in the process still gets the real package.
    """
    stand_ins = [name for name in ("matplotlib", "matplotlib.pyplot") if name not in sys.modules]
    for name in stand_ins:
        sys.modules[name] = types.ModuleType(name)
    try:
        import mediapipe
    finally:
        for name in stand_ins:
            sys.modules.pop(name, None)
    return mediapipe


mp = _import_mediapipe()

_quiet_lock = threading.Lock()
_quiet_state = {"depth": 0, "saved": -1}


@contextlib.contextmanager
def _quiet_native_stderr(quiet: bool = True):
    """Silence MediaPipe's C++ start-up chatter (it writes to fd 2, past Python's logging).

    Callers silence only a graph's creation and first call: that is when it prints; later
    errors show. fd 2 belongs to the whole process, so graphs starting at once in several
    threads (source and driving tracked together) share one redirection, undone when the last
    one is done.
    """
    with _quiet_lock:
        redirected = quiet and _redirect_stderr()
    try:
        yield
    finally:
        if redirected:
            with _quiet_lock:
                _restore_stderr()


def _redirect_stderr() -> bool:
    """fd 2 -> /dev/null (nested: counted). Call with _quiet_lock held."""
    if _quiet_state["depth"] == 0:
        try:
            sys.stderr.flush()
            saved = os.dup(2)
        except (OSError, ValueError):
            return False
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
        _quiet_state["saved"] = saved
    _quiet_state["depth"] += 1
    return True


def _restore_stderr() -> None:
    """Undo one _redirect_stderr; the last one puts fd 2 back. Call with _quiet_lock held."""
    _quiet_state["depth"] -= 1
    if _quiet_state["depth"] == 0:
        os.dup2(_quiet_state["saved"], 2)
        os.close(_quiet_state["saved"])


@dataclass(frozen=True)
class Detection:
    """One face found by the full-frame detector.

    Attributes:
        box: (4,) float32 x0, y0, x1, y1 frame pixels (brows to mouth, tighter than the mesh).
        score: detector confidence in [0, 1].
    """

    box: np.ndarray
    score: float


class Detector:
    """Both MediaPipe face detectors on the full frame, merged with NMS.

    The short-range model (0) is reliable on close-ups, the full-range model (1) finds small
    faces in wide shots; neither alone covers a group shot. The full-range model sees the
    frame at 192 x 192, so with ``tiles`` it also runs on two overlapping halves of the frame
    (split along the longer side), which doubles the pixels a small face gets: the 60-pixel
    dancer of ``two_faces.mp4`` is missed on the full frame but found on a half.

    Args:
        confidence: minimum detector score.
        nms_iou: IoU above which two boxes are one face.
        tiles: also run the full-range model on two overlapping halves.
    """

    def __init__(self, confidence: float, nms_iou: float, tiles: bool = True) -> None:
        fd = mp.solutions.face_detection
        self._cold = [True, True]  # per model: first call still to come
        with _quiet_native_stderr():
            self._models = [fd.FaceDetection(model_selection=m,
                                             min_detection_confidence=confidence)
                            for m in (0, 1)]
        self._nms_iou = nms_iou
        self._tiles = tiles

    def __call__(self, rgb: np.ndarray) -> list[Detection]:
        """Faces in one (H, W, 3) uint8 RGB frame, best score first."""
        boxes: list[list[float]] = []
        scores: list[float] = []
        for m in range(len(self._models)):
            self._collect(m, rgb, 0, 0, boxes, scores)
        if self._tiles:
            for x0, y0, x1, y1 in halves(rgb.shape[1], rgb.shape[0]):
                tile = np.ascontiguousarray(rgb[y0:y1, x0:x1])
                self._collect(1, tile, x0, y0, boxes, scores)
        if not boxes:
            return []
        arr = np.asarray(boxes, dtype=np.float32)
        keep = nms(arr, np.asarray(scores), self._nms_iou)
        return [Detection(box=arr[i], score=scores[i]) for i in keep]

    def _collect(self, m: int, rgb: np.ndarray, dx: int, dy: int,
                 boxes: list[list[float]], scores: list[float]) -> None:
        """Run detector graph `m` on an image placed at (dx, dy); append frame-pixel boxes."""
        h, w = rgb.shape[:2]
        with _quiet_native_stderr(self._cold[m]):
            result = self._models[m].process(rgb)  # type: ignore[attr-defined]
        self._cold[m] = False
        for det in result.detections or []:
            rel = det.location_data.relative_bounding_box
            x0, y0 = dx + rel.xmin * w, dy + rel.ymin * h
            boxes.append([x0, y0, x0 + rel.width * w, y0 + rel.height * h])
            scores.append(float(det.score[0]) if det.score else 0.0)

    def close(self) -> None:
        """Release both graphs."""
        for model in self._models:
            model.close()
        self._models = []


def halves(width: int, height: int, share: float = 0.6) -> list[tuple[int, int, int, int]]:
    """Two overlapping tiles (x0, y0, x1, y1), each ``share`` of the longer side."""
    if width >= height:
        n = round(width * share)
        return [(0, 0, n, height), (width - n, 0, width, height)]
    n = round(height * share)
    return [(0, 0, width, n), (0, height - n, width, height)]


class Mesh:
    """Face mesh (478 points with irises) on a square window of the frame.

    The window is resampled to ``input_size`` so a small face gets enough pixels; the graph runs
    in static-image mode, so every window is independent of the previous one (the tracker, not
    MediaPipe, decides where each face is).

    Args:
        confidence: minimum score of the mesh's own face check inside the window.
        input_size: side in pixels the window is resampled to.
        max_faces: faces returned per window (more than one lets the tracker pick the right
            face when two faces overlap).
    """

    def __init__(self, confidence: float, input_size: int, max_faces: int = 2) -> None:
        self._cold = True  # first call still to come
        with _quiet_native_stderr():
            self._graph = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
                min_detection_confidence=confidence)
        self._n = int(input_size)

    def __call__(self, rgb: np.ndarray, centre: np.ndarray, side: float) -> list[np.ndarray]:
        """Meshes of the faces inside one window.

        Args:
            rgb: (H, W, 3) uint8 RGB frame.
            centre: (2,) window centre, frame pixels (may lie near or past the border: the
                outside is padded black).
            side: window side, frame pixels.

        Returns:
            List of (478, 3) float32 landmarks in frame pixels, z scaled like x (MediaPipe
            normalises z by the window width, so z_px = z * side).
        """
        n = self._n
        s = n / max(float(side), 1.0)
        cx, cy = float(centre[0]), float(centre[1])
        to_crop = np.array([[s, 0.0, n / 2.0 - s * cx], [0.0, s, n / 2.0 - s * cy]])
        window = cv2.warpAffine(rgb, to_crop, (n, n), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
        with _quiet_native_stderr(self._cold):
            result = self._graph.process(window)
        self._cold = False
        faces = []
        for face in result.multi_face_landmarks or []:
            rel = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
            out = np.empty_like(rel)
            out[:, 0] = cx + (rel[:, 0] - 0.5) * side
            out[:, 1] = cy + (rel[:, 1] - 0.5) * side
            out[:, 2] = rel[:, 2] * side
            faces.append(out.astype(np.float32))
        return faces

    def close(self) -> None:
        """Release the graph."""
        self._graph.close()


class MeshPool:
    """Several mesh graphs, so the windows of one frame (one per tracked face) run at once.

    A graph runs one image at a time, but MediaPipe releases the GIL while it runs and a graph
    keeps to one core: with a graph per worker thread, the faces of a group shot are meshed in
    about the time of one. Each window is independent of the others (static-image mode), so
    which graph meshes it does not change the result. Graphs and threads are made only when a
    frame has more than one window.

    Args:
        confidence, input_size, max_faces: as for `Mesh`.
        workers: most graphs running at once (default: the CPU count, at most 4).
    """

    def __init__(self, confidence: float, input_size: int, max_faces: int = 2,
                 workers: int | None = None) -> None:
        self._args = (confidence, input_size, max_faces)
        self._graphs = [Mesh(*self._args)]
        self._workers = max(1, workers or min(os.cpu_count() or 1, 4))
        self._pool: ThreadPoolExecutor | None = None

    def __call__(self, rgb: np.ndarray, windows: list[tuple[np.ndarray, float]]
                 ) -> list[list[np.ndarray]]:
        """`Mesh` results of each (centre, side) window of one frame, in the windows' order."""
        n = min(len(windows), self._workers)
        if n <= 1:
            return [self._graphs[0](rgb, c, s) for c, s in windows]
        while len(self._graphs) < n:
            self._graphs.append(Mesh(*self._args))
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="vedit-mesh")
        shares = [range(k, len(windows), n) for k in range(n)]

        def run(k: int) -> list[list[np.ndarray]]:
            return [self._graphs[k](rgb, *windows[i]) for i in shares[k]]

        out: list[list[np.ndarray]] = [[] for _ in windows]
        for share, results in zip(shares, self._pool.map(run, range(n)), strict=True):
            for i, faces in zip(share, results, strict=True):
                out[i] = faces
        return out

    def close(self) -> None:
        """Stop the threads and release every graph."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for graph in self._graphs:
            graph.close()
        self._graphs = []
