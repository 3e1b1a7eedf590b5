"""Join video pieces rendered apart (chunks of one shot) into one file without re-encoding.

Packets are copied as they are (each piece starts with a key frame, as every separately
encoded piece does), so the joined stream decodes to exactly the frames of the pieces; the
source's audio is muxed once, over the whole joined range.

Pieces of an in/out shot keep the source's timestamps (a piece cannot know where the joined
clip starts); `rebase` moves them at the join exactly as VideoWriter(rebase=) moves a single
render's, so the joined clip starts where `vedit edit --frames A:B` would, with the same
audio window.
"""
from __future__ import annotations

import bisect
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
                  audio_window: tuple[Fraction, Fraction] | None = None,
                  rebase: Fraction | None = None,
                  timestamps: tuple[Sequence[int], Fraction] | None = None) -> Path:
    """Stream-copy the video of `pieces` (in order) into `output`, plus `audio_from`'s audio.

    Args:
        pieces: the pieces, in time order, each starting with a key frame.
        output: the joined file (appears only when complete).
        audio_from: file whose audio is muxed once over the joined range.
        audio_window: (start, stop) seconds of that audio, shifted by start (as VideoWriter).
        rebase: seconds subtracted from every video timestamp (as VideoWriter).
        timestamps: the exact pts of the joined frames and their time base (the source's).
            A container with coarser timestamps (Matroska: 1 ms) rounded them in the pieces,
            and rebasing rounded values can land a tick away from a single render, which
            rounds after rebasing: with these, each packet gets its exact time back first.

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
            retime = _Retimer(rebase, timestamps, first.time_base)
            ost = out.add_stream_from_template(first)
            ost.time_base = retime.time_base
            audio = None
            if audio_from is not None:
                start, stop = audio_window or (None, None)
                audio = AudioCopier(audio_from, out, output.suffix, start, stop)
            for c in inputs:
                ist = c.streams.video[0]
                for pkt in c.demux(ist):
                    if pkt.dts is None and pkt.pts is None:
                        continue
                    retime(pkt, c.name)
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


class _Retimer:
    """Gives copied video packets their joined-file timestamps: exact, then rebased."""

    def __init__(self, rebase: Fraction | None,
                 timestamps: tuple[Sequence[int], Fraction] | None, piece_base: Fraction) -> None:
        self.active = bool(rebase) or timestamps is not None
        self.exact = sorted(timestamps[0]) if timestamps is not None else None
        self.time_base = Fraction(timestamps[1]) if timestamps is not None else piece_base
        self.offset = round(Fraction(rebase) / self.time_base) if rebase else 0

    def __call__(self, pkt, piece: str) -> None:
        if not self.active:
            return
        tb = pkt.time_base
        shift = -self.offset
        if pkt.pts is not None:
            rounded = round(pkt.pts * tb / self.time_base)
            exact = self._exact(pkt.pts * tb, rounded, piece)
            shift += exact - rounded
            pkt.pts = exact - self.offset
        if pkt.dts is not None:
            pkt.dts = round(pkt.dts * tb / self.time_base) + shift
        pkt.time_base = self.time_base

    def _exact(self, when: Fraction, rounded: int, piece: str) -> int:
        """The joined frame the piece stored at `when` (rounded: itself when no list was given).

        Pieces can store times off by up to a millisecond (Matroska's 1 ms ticks; an MP4
        piece starting past 0 has its start edit in the movie's 1 ms timescale), far less than
        half the gap between two frames: the nearest frame is the one.
        """
        if self.exact is None:
            return rounded
        exact, tb = self.exact, self.time_base
        k = bisect.bisect_left(exact, rounded)
        nearest = [i for i in (k - 1, k) if 0 <= i < len(exact)]
        if not nearest:
            raise InputError(piece, "there are no frames to join")
        i = min(nearest, key=lambda j: abs(exact[j] * tb - when))
        gaps = [abs(exact[j] - exact[i]) * tb for j in (i - 1, i + 1) if 0 <= j < len(exact)]
        if gaps and abs(exact[i] * tb - when) * 2 >= min(gaps):
            raise InputError(piece, f"frame at {float(when):.6f} s is not one of the joined "
                                    "frames")
        return exact[i]


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
