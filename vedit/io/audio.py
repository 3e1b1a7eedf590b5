"""Carry a source's audio streams into an output file, by stream copy whenever possible.

Audio is muxed progressively as video advances (so memory stays flat and the file is
interleaved), and the samples are the source's own: copied packets decode to the same samples.

An in point rarely falls on an audio packet boundary (AAC packets last ~23 ms). The packet that
straddles it is always kept, so no audio is lost at the start of an in/out render; how depends
on what the container can say:

* .mp4/.m4v/.mov (edit lists): the straddling packet and the one before it (just the one
  before, when a packet starts exactly at the in point) keep their true times, shifted like
  the video, so slightly negative. The muxer writes an edit list that starts playback exactly
  at the in point, and the extra packet primes the decoder (an AAC frame overlaps the one
  before it), so the output decodes to exactly the source's samples from the in point on: A/V
  sync is exact, as in the source itself (its encoder priming works the same way).
* anything else (Matroska, ...): negative times would make the muxer move every stream (the
  video no longer starting at its own timestamps) and some players mishandle them, so the
  straddling packet is clamped to the in point. Nothing is lost; that one packet starts at the
  in point instead of slightly before it (less than one packet, ~23 ms, late) and every later
  packet plays at its exact time. Without a window the same holds at time 0, where an AAC
  source's priming packets sit at negative times.

Re-encoded streams (a codec the container refuses) are cut at the exact sample instead.
"""
from __future__ import annotations

import logging
from collections import deque
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vedit.io._av import open_input

log = logging.getLogger("vedit.io")

# Audio codecs each container accepts by stream copy.
_COPYABLE = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "flac", "opus"},
    ".m4v": {"aac", "mp3", "ac3", "eac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le", "pcm_s16be",
             "pcm_s24be", "pcm_f32le", "opus", "flac"},
    ".mkv": None,  # Matroska takes anything
    ".nut": None,
    ".mxf": {"pcm_s16le", "pcm_s24le"},
}
_FALLBACK = {".mxf": ("pcm_s24le", "s32"), ".mkv": ("flac", "s16")}
# Containers whose muxer turns leading negative times into an edit list (exact start).
_EDIT_LIST = {".mp4", ".m4v", ".mov"}


class AudioCopier:
    """Copies (or, when the container refuses the codec, re-encodes) every audio stream.

    Args:
        source: file whose audio is carried over.
        output: the open output container.
        suffix: output file suffix (decides what can be copied, and how the in point is kept:
            see the module docstring).
        start, stop: optional time window in seconds (Fractions); audio is shifted by `start`
            and packets starting at or after `stop` are dropped.
    """

    def __init__(self, source: str | Path, output, suffix: str,
                 start: Fraction | None = None, stop: Fraction | None = None) -> None:
        self._input = open_input(source)
        self._pairs = []
        self.reencoded: list[str] = []
        self._start, self._stop = start, stop
        self._edit_list = suffix.lower() in _EDIT_LIST
        # Where audio must begin: the window's start, or 0 where negative times cannot be kept.
        self._origin = start if start is not None or self._edit_list else Fraction(0)
        allowed = _COPYABLE.get(suffix.lower())
        for ist in self._input.streams.audio:
            name = ist.codec_context.name
            if allowed is None or name in allowed:
                ost = output.add_stream_from_template(ist)
                self._pairs.append((ist, ost, None))
            else:
                enc, fmt = _FALLBACK.get(suffix.lower(), ("aac", "fltp"))
                ost = output.add_stream(enc, rate=ist.rate, layout=ist.layout.name)
                resampler = av.AudioResampler(format=fmt, layout=ist.layout.name, rate=ist.rate)
                self._pairs.append((ist, ost, resampler))
                self.reencoded.append(f"{name} -> {enc}")
                log.warning("%s: audio %s cannot be copied into %s; re-encoding to %s",
                            source, name, suffix, enc)
        self._packets = self._input.demux(*[p[0] for p in self._pairs]) if self._pairs else None
        self._pending = None
        self._done = not self._pairs
        # Per input stream: the last packets before the origin, until the first one after it.
        self._lead: dict[int, deque] = {p[0].index: deque(maxlen=2) for p in self._pairs}
        self._started: set[int] = set()
        self._written: dict[int, int] = {}  # per re-encoded output stream: samples encoded

    @property
    def has_audio(self) -> bool:
        return bool(self._pairs)

    def advance_to(self, t: Fraction | None, output) -> None:
        """Mux audio packets up to time `t` seconds (None: everything left)."""
        while not self._done:
            pkt = self._pending or next(self._packets, None)
            self._pending = None
            if pkt is None:
                self._done = True
                break
            if pkt.dts is None and pkt.pts is None:
                continue  # the demuxer's end-of-stream marker
            when = _time(pkt)
            if t is not None and when > t + (self._start or 0):
                self._pending = pkt
                break
            self._take(pkt, when, output)

    def _take(self, pkt, when: Fraction, output) -> None:
        """Mux one packet in time order, holding back those before the origin."""
        if self._stop is not None and when >= self._stop:
            return
        index = pkt.stream.index
        if index not in self._started:
            if self._origin is not None and when < self._origin:
                self._lead[index].append(pkt)
                return
            self._started.add(index)
            if self._origin is not None:
                self._lead_in(index, straddles=when > self._origin, output=output)
        self._mux(pkt, output)

    def _lead_in(self, index: int, straddles: bool, output) -> None:
        """Mux what is kept of the packets before the origin (see the module docstring)."""
        lead = list(self._lead.pop(index, ()))
        if not lead:
            return
        _, _, resampler = self._pair(lead[-1])
        if resampler is not None:
            for pkt in lead:  # decoded and cut at the exact sample
                self._mux(pkt, output)
        elif self._edit_list:
            for pkt in lead[-2:] if straddles else lead[-1:]:
                self._mux(pkt, output)
        elif straddles:
            pkt = lead[-1]
            at = int(self._origin / pkt.time_base)
            pkt.pts, pkt.dts = at, at
            self._mux(pkt, output)

    def _pair(self, pkt):
        return next(p for p in self._pairs if p[0] is pkt.stream)

    def _mux(self, pkt, output) -> None:
        _, ost, resampler = self._pair(pkt)
        if resampler is None:
            if self._start:
                shift = int(self._start / pkt.time_base)
                pkt.pts = None if pkt.pts is None else pkt.pts - shift
                pkt.dts = None if pkt.dts is None else pkt.dts - shift
            pkt.stream = ost
            output.mux(pkt)
            return
        for frame in pkt.decode():
            frame = _cut_before(frame, self._origin)
            if frame is None:
                continue
            frame.pts = None
            self._encode(ost, resampler.resample(frame), output)

    def _encode(self, ost, frames, output) -> None:
        """Encode re-sampled frames stamped by sample count from the window's start: the
        encoder then gives its priming samples negative times, which the container hides
        (an edit list), instead of delaying the whole stream by them."""
        for rframe in frames:
            rframe.pts = self._written.get(ost.index, 0)
            rframe.time_base = Fraction(1, rframe.sample_rate)
            self._written[ost.index] = rframe.pts + rframe.samples
            for opkt in ost.encode(rframe):
                output.mux(opkt)

    def finish(self, output) -> None:
        """Mux what is left and drain re-encoders."""
        self.advance_to(None, output)
        for index in list(self._lead):  # a stream that ended before the origin
            lead = self._lead[index]
            if lead and _end(lead[-1]) > self._origin:
                self._started.add(index)
                self._lead_in(index, straddles=True, output=output)
        for _, ost, resampler in self._pairs:
            if resampler is not None:
                self._encode(ost, resampler.resample(None), output)
                for opkt in ost.encode(None):
                    output.mux(opkt)
        self._input.close()

    def close(self) -> None:
        self._input.close()


def _time(pkt) -> Fraction:
    return (pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base


def _end(pkt) -> Fraction:
    return _time(pkt) + (pkt.duration or 0) * pkt.time_base


def _cut_before(frame, origin: Fraction | None):
    """The decoded frame without its samples before `origin` (None when nothing is left)."""
    if origin is None or frame.pts is None:
        return frame
    skip = round((origin - frame.pts * frame.time_base) * frame.sample_rate)
    if skip <= 0:
        return frame
    if skip >= frame.samples:
        return None
    arr = frame.to_ndarray()
    step = 1 if frame.format.is_planar else len(frame.layout.channels)
    cut = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr[:, skip * step:]),
                                     format=frame.format.name, layout=frame.layout.name)
    cut.sample_rate = frame.sample_rate
    return cut
