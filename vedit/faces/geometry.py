"""Box arithmetic shared by the detector and the tracker (pure numpy, no MediaPipe)."""
from __future__ import annotations

import numpy as np


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over union.

    Args:
        a: (N, 4) boxes x0, y0, x1, y1.
        b: (M, 4) boxes x0, y0, x1, y1.

    Returns:
        (N, M) float64 IoU in [0, 1].
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: (N, 4) boxes x0, y0, x1, y1.
        scores: (N,) scores, higher is better.
        iou: overlap above which the lower-scored box is dropped.

    Returns:
        (K,) int64 indices of the kept boxes, best first.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    overlaps = box_iou(boxes, boxes)
    for i in order:
        if all(overlaps[i, k] <= iou for k in keep):
            keep.append(int(i))
    return np.asarray(keep, dtype=np.int64)


def landmark_box(landmarks: np.ndarray) -> np.ndarray:
    """(4,) float32 x0, y0, x1, y1 extent of (K, 2+) landmarks."""
    xy = landmarks[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)]).astype(np.float32)


def box_centre(box: np.ndarray) -> np.ndarray:
    """(2,) float64 centre of a box x0, y0, x1, y1."""
    return np.array([(box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0], dtype=np.float64)


def box_side(box: np.ndarray) -> float:
    """Longer side of a box x0, y0, x1, y1, pixels."""
    return float(max(box[2] - box[0], box[3] - box[1]))
