"""`vedit probe`: what a media file holds, read from the container (no full decode)."""
from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av

from vedit.errors import InputError
from vedit.io._av import IMAGE_SUFFIXES, open_input, to_fraction
from vedit.io.info import AudioInfo, MediaInfo
from vedit.io.reader import VideoReader


def probe(path: str | os.PathLike) -> MediaInfo:
    """Describe a media file.

    Raises:
        InputError: naming the file, when it is missing, empty or not media.
    """
    p = Path(path)
    container = open_input(p)
    try:
        fmt = container.format.name
        duration = Fraction(container.duration, av.time_base) if container.duration else None
        audio = tuple(
            AudioInfo(
                index=s.index, codec=s.codec_context.name, sample_rate=s.rate,
                channels=s.codec_context.channels, layout=s.layout.name,
                time_base=to_fraction(s.time_base) or Fraction(1, s.rate or 1),
                duration=(s.duration * s.time_base) if s.duration else None,
            )
            for s in container.streams.audio
        )
        has_video = bool(container.streams.video)
    finally:
        container.close()
    video = None
    if has_video:
        with VideoReader(p, threads=False) as reader:
            video = reader.info
    is_image = p.suffix.lower() in IMAGE_SUFFIXES or fmt in ("image2", "png_pipe", "jpeg_pipe")
    if video is None and not audio:
        raise InputError(p, "holds neither video nor audio")
    return MediaInfo(path=str(p), container=fmt, size_bytes=p.stat().st_size,
                     duration=duration, video=video, audio=audio, is_image=is_image)
