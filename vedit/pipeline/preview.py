"""Side-by-side review video: source | driving | result, for an editor to scrub."""
from __future__ import annotations

import contextlib
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from vedit.io import VideoWriter, open_video
from vedit.io.info import ColourTags, VideoInfo

PANEL_HEIGHT = 360


class PreviewWriter:
    """Writes one preview frame per output frame. `maybe(None, ...)` gives a no-op writer."""

    def __init__(self, path: Path, info: VideoInfo, driving: Path | None) -> None:
        self._height = PANEL_HEIGHT
        self._src_w = _even(round(info.width * self._height / info.height))
        self._drv_w = self._height if driving is not None else 0
        width = self._src_w * 2 + self._drv_w
        self._info = VideoInfo(
            codec="", pix_fmt="yuv420p", width=width, height=self._height, coded_width=width,
            coded_height=self._height, fps=info.fps, time_base=info.time_base,
            frame_count=info.frame_count, duration=None, start_pts=0,
            colour=ColourTags(1, 1, 1, 1))
        self._writer = VideoWriter(path, template=self._info, codec="h264", crf=23)
        self._driving = _DrivingFrames(driving, self._height) if driving is not None else None
        self._count = 0

    @classmethod
    def maybe(cls, path: Path | None, info: VideoInfo, driving: Path | None):
        if path is None:
            return contextlib.nullcontext(_NoPreview())
        return cls(path, info, driving)

    def add(self, source: np.ndarray, driving_index: int | None,
            result: np.ndarray | None) -> None:
        """source, result: (H, W, 3) uint8 RGB; result None = unchanged."""
        size = (self._src_w, self._height)
        src = cv2.resize(source, size, interpolation=cv2.INTER_AREA)
        res = src if result is None else cv2.resize(result, size, interpolation=cv2.INTER_AREA)
        panels = [src]
        if self._driving is not None:
            drv = self._driving.get(driving_index)
            panels.append(drv)
        panels.append(res)
        pts = round(Fraction(self._count) / self._info.fps / self._info.time_base)
        self._writer.write_rgb(np.concatenate(panels, axis=1), pts)
        self._count += 1

    def __enter__(self) -> PreviewWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._driving is not None:
            self._driving.close()
        self._writer.__exit__(exc_type, exc, tb)


class _NoPreview:
    def add(self, *args) -> None:
        pass


class _DrivingFrames:
    """Driving frames by index, decoded forward; reopened when asked to go back (loops)."""

    def __init__(self, path: Path, height: int) -> None:
        self._path, self._height = path, height
        self._reader = None
        self._last: tuple[int, np.ndarray] | None = None
        self._open()

    def _open(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader = open_video(self._path)
        self._frames = iter(self._reader)
        self._last = None

    def get(self, index: int | None) -> np.ndarray:
        blank = np.zeros((self._height, self._height, 3), np.uint8)
        if index is None:
            return blank if self._last is None else self._last[1]
        if self._last is not None and index < self._last[0]:
            self._open()
        while self._last is None or self._last[0] < index:
            frame = next(self._frames, None)
            if frame is None:
                break
            rgb = frame.rgb()
            h, w = rgb.shape[:2]
            side = min(h, w)
            y0, x0 = (h - side) // 2, (w - side) // 2
            square = rgb[y0:y0 + side, x0:x0 + side]
            self._last = (frame.index, cv2.resize(square, (self._height, self._height),
                                                  interpolation=cv2.INTER_AREA))
        return blank if self._last is None else self._last[1]

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()


def _even(x: int) -> int:
    return x + (x % 2)
