"""Opening files with PyAV and turning its failures into errors that name the file."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from vedit.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def check_readable(path: str | os.PathLike) -> Path:
    """Raise InputError unless `path` is an existing, non-empty file."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file does not exist")
    if p.is_dir():
        raise InputError(p, "is a folder, not a media file")
    if p.stat().st_size == 0:
        raise InputError(p, "file is empty (0 bytes)")
    if not os.access(p, os.R_OK):
        raise InputError(p, "file is not readable (permission denied)")
    return p


def open_input(path: str | os.PathLike) -> av.container.InputContainer:
    """Open a media file for reading, with a one-line error on failure."""
    p = check_readable(path)
    try:
        return av.open(str(p), mode="r", metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise InputError(p, "not a readable media file (invalid or truncated data)") from None
    except av.error.FFmpegError as exc:
        raise InputError(p, f"cannot open: {exc.strerror or exc}") from None


def to_fraction(value) -> Fraction | None:
    """PyAV rationals (Fraction or None) to Fraction, None for missing/zero."""
    if value is None:
        return None
    frac = Fraction(value)
    return frac if frac != 0 else None


def rotation_of(stream: av.video.stream.VideoStream, first_frame=None) -> int:
    """Clockwise rotation (0/90/180/270) a player applies to the stored picture."""
    deg = 0.0
    if first_frame is not None and getattr(first_frame, "rotation", 0):
        deg = float(first_frame.rotation)
    else:
        try:
            deg = float(stream.metadata.get("rotate", 0) or 0)
        except (TypeError, ValueError):
            deg = 0.0
    # FFmpeg's display-matrix angle is counter-clockwise; players rotate by its negative.
    return round(-deg / 90.0) % 4 * 90
