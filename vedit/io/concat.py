"""Join video pieces rendered apart (chunks of one shot) into one file without re-encoding.

Packets are copied as they are (each piece starts with a key frame, as every separately
encoded piece does), their timestamps kept, so the joined stream decodes to exactly the frames
of the pieces; the source's audio is muxed once, over the whole joined range.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av

from vedit.errors import InputError, OutputError
from vedit.io._av import open_input
from vedit.io.audio import AudioCopier
from vedit.io.writer import partial_path


def concat_pieces(pieces: Sequence[str | os.PathLike], output: str | os.PathLike, *,
                  audio_from: str | os.PathLike | None = None,
                  audio_window: tuple[Fraction, Fraction] | None = None) -> Path:
    """Stream-copy the video of `pieces` (in order) into `output`, plus `audio_from`'s audio.

    Raises:
        InputError: a piece is missing or unreadable, or pieces differ in codec or size.
        OutputError: the output cannot be written.
    """
    output = Path(output)
    if not pieces:
        raise InputError(None, "nothing to join")
    tmp = partial_path(output)
    inputs = [open_input(p) for p in pieces]
    try:
        first = inputs[0].streams.video[0]
        for path, c in zip(pieces, inputs, strict=True):
            if not c.streams.video:
                raise InputError(path, "piece has no video stream")
            s = c.streams.video[0]
            if (s.codec_context.name, s.width, s.height) != (
                    first.codec_context.name, first.width, first.height):
                raise InputError(path, "piece differs in codec or size from the first piece")
        options = {"movflags": "+write_colr"} if output.suffix.lower() in (".mp4", ".mov") else {}
        try:
            out = av.open(str(tmp), "w", options=options)
        except (av.error.FFmpegError, OSError) as exc:
            raise OutputError(output, f"cannot create output: {exc}") from None
        try:
            ost = out.add_stream_from_template(first)
            ost.time_base = first.time_base
            audio = None
            if audio_from is not None:
                start, stop = audio_window or (None, None)
                audio = AudioCopier(audio_from, out, output.suffix, start, stop)
            for c in inputs:
                ist = c.streams.video[0]
                for pkt in c.demux(ist):
                    if pkt.dts is None and pkt.pts is None:
                        continue
                    if audio is not None and pkt.pts is not None:
                        audio.advance_to(pkt.pts * pkt.time_base, out)
                    pkt.stream = ost
                    out.mux(pkt)
            if audio is not None:
                audio.finish(out)
            out.close()
        except BaseException:
            out.close()
            tmp.unlink(missing_ok=True)
            raise
    finally:
        for c in inputs:
            c.close()
    os.replace(tmp, output)
    return output


def frame_pts(path: str | os.PathLike) -> list[int]:
    """Presentation timestamps of every video frame, in order, read from packets (no decode)."""
    c = open_input(path)
    try:
        if not c.streams.video:
            raise InputError(path, "has no video stream")
        pts = [p.pts for p in c.demux(c.streams.video[0]) if p.pts is not None]
    finally:
        c.close()
    return sorted(pts)
