"""Streaming video reader: one decoded frame at a time, with its own timestamp.

Never holds more than the frame in hand, so memory does not grow with the shot's length.
Each frame keeps its decoded planes (for bit-exact passthrough by the writer) and converts to
RGB only when asked.
"""
from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vedit.errors import InputError
from vedit.io._av import IMAGE_SUFFIXES, check_readable, open_input, rotation_of, to_fraction
from vedit.io.info import ColourTags, VideoInfo

log = logging.getLogger("vedit.io")


@dataclass
class DecodedFrame:
    """One decoded source frame.

    Attributes:
        index: position in decode order of presentation (0-based).
        pts: presentation timestamp in `time_base` units (the stream's own, unchanged).
        time_base: the stream's time base.
        rotation: clockwise degrees to make the stored picture upright.
        av_frame: the decoded PyAV frame (planes as decoded, for passthrough).
    """

    index: int
    pts: int
    time_base: Fraction
    rotation: int
    av_frame: av.VideoFrame

    @property
    def time(self) -> Fraction:
        """Presentation time in seconds, exact."""
        return self.pts * self.time_base

    def rgb(self) -> np.ndarray:
        """(H, W, 3) uint8 RGB, upright, decoded with the stream's own matrix and range."""
        f = self.av_frame
        kwargs = {}
        if f.color_range in (1, 2):
            kwargs["src_color_range"] = int(f.color_range)
        img = f.to_ndarray(format="rgb24", **kwargs)
        if self.rotation:
            img = np.ascontiguousarray(np.rot90(img, -self.rotation // 90))
        return img


class VideoReader:
    """Iterate over the frames of a video file. Use as a context manager.

    Raises:
        InputError: naming the file, when it is missing, empty, not media, has no video,
            or turns out truncated while reading.
    """

    def __init__(self, path: str | os.PathLike, *, threads: bool = True) -> None:
        self.path = Path(path)
        self._container = open_input(self.path)
        if not self._container.streams.video:
            self._container.close()
            raise InputError(self.path, "has no video stream")
        self._stream = self._container.streams.video[0]
        if threads:
            self._stream.thread_type = "AUTO"
        self._frames = self._container.decode(self._stream)
        try:  # the first frame tells the rotation (display matrix) and proves the file decodes
            self._first = next(self._frames)
        except StopIteration:
            self._container.close()
            raise InputError(self.path, "contains no decodable video frames") from None
        except av.error.FFmpegError as exc:
            self._container.close()
            raise InputError(self.path, f"cannot decode video: {exc.strerror or exc}") from None
        self.info = _video_info(self._container, self._stream, self._first)
        self._at_least = _frames_at_least(self._container, self._stream, self.info)
        self._consumed = False

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    def __iter__(self) -> Iterator[DecodedFrame]:
        if self._consumed:
            raise RuntimeError("a VideoReader can be iterated once; open the file again")
        self._consumed = True
        tb = self.info.time_base
        index = 0
        last_pts = None
        try:
            for av_frame in itertools.chain([self._first], self._frames):
                pts = av_frame.pts
                if pts is None:  # some raw streams carry no pts: count frames instead
                    pts = (last_pts + 1) if last_pts is not None else 0
                last_pts = pts
                yield DecodedFrame(index, int(pts), tb, self.info.rotation, av_frame)
                index += 1
        except av.error.FFmpegError as exc:
            raise InputError(self.path, f"corrupt or truncated video at frame {index}: "
                                        f"{exc.strerror or exc}") from None
        if index == 0:
            raise InputError(self.path, "contains no decodable video frames")
        if self._at_least is not None and index < self._at_least:
            raise InputError(self.path, f"truncated: decoded {index} of "
                                        f"{self.info.frame_count} frames")


def open_video(path: str | os.PathLike, *, threads: bool = True) -> VideoReader:
    """Open a video for streaming. See VideoReader."""
    return VideoReader(path, threads=threads)


def is_image(path: str | os.PathLike) -> bool:
    """True for still-image files (by suffix)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """A still image as (H, W, 3) uint8 RGB (EXIF orientation applied by FFmpeg's decoder).

    Raises:
        InputError: missing, empty or undecodable file.
    """
    p = check_readable(path)
    container = open_input(p)
    try:
        if not container.streams.video:
            raise InputError(p, "has no picture")
        for frame in container.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            rot = rotation_of(container.streams.video[0], frame)
            return np.ascontiguousarray(np.rot90(img, -rot // 90)) if rot else img
        raise InputError(p, "contains no decodable picture")
    except av.error.FFmpegError as exc:
        raise InputError(p, f"corrupt image: {exc.strerror or exc}") from None
    finally:
        container.close()


def _stream_duration(stream, tb: Fraction) -> Fraction | None:
    """The video stream's own duration: from the stream, or from the DURATION tag that
    Matroska keeps per stream ("HH:MM:SS.fffffffff"); None when neither is there."""
    if stream.duration:
        return stream.duration * tb
    tag = (stream.metadata or {}).get("DURATION")
    try:
        h, m, s = tag.split(":")
        seconds, _, frac = s.partition(".")
        whole = int(h) * 3600 + int(m) * 60 + int(seconds)
        return whole + Fraction(int(frac or 0), 10 ** len(frac or "0"))
    except (AttributeError, ValueError):
        return None


def _frames_at_least(container, stream, info: VideoInfo) -> int | None:
    """Fewest frames a complete file can decode to, or None when the file does not say.

    An index's frame count is exact. A duration of the video stream itself gives the count
    to within rounding (one frame). The container's duration spans every stream, and the
    audio often runs past the last picture, so it only tells truncation beyond a second.
    """
    count = info.frame_count
    if not count:
        return None
    if stream.frames:
        return count
    if _stream_duration(stream, info.time_base) is not None:
        return count - 1
    return count - max(1, round(info.fps))


def _video_info(container, stream, first_frame) -> VideoInfo:
    cc = stream.codec_context
    fps = to_fraction(stream.average_rate) or to_fraction(stream.guessed_rate) or Fraction(25)
    tb = to_fraction(stream.time_base) or Fraction(1, 90000)
    frames = int(stream.frames) if stream.frames else None
    duration = _stream_duration(stream, tb)
    if duration is None and container.duration:
        duration = Fraction(container.duration, av.time_base)
    if frames is None and duration is not None:
        frames = round(duration * fps)
    rot = rotation_of(stream, first_frame)
    w, h = cc.width, cc.height
    upright = (h, w) if rot in (90, 270) else (w, h)
    fmt = av.VideoFormat(cc.pix_fmt) if cc.pix_fmt else None
    depth = max((c.bits for c in fmt.components), default=8) if fmt else 8
    colour = ColourTags(
        primaries=int(cc.color_primaries or 2),
        transfer=int(cc.color_trc or 2),
        matrix=int(cc.colorspace if cc.colorspace is not None else 2),
        range=int(cc.color_range or 0),
    )
    return VideoInfo(
        codec=cc.name,
        pix_fmt=cc.pix_fmt or "unknown",
        width=upright[0],
        height=upright[1],
        coded_width=w,
        coded_height=h,
        fps=fps,
        time_base=tb,
        frame_count=frames,
        duration=duration,
        start_pts=int(stream.start_time or 0),
        colour=colour,
        rotation=rot,
        bit_depth=depth,
        profile=cc.profile,
    )
