"""Carry a source's audio streams into an output file, by stream copy whenever possible.

Audio is muxed progressively as video advances (so memory stays flat and the file is
interleaved), and the samples are the source's own: copied packets decode to the same samples.
"""
from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av

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


class AudioCopier:
    """Copies (or, when the container refuses the codec, re-encodes) every audio stream.

    Args:
        source: file whose audio is carried over.
        output: the open output container.
        suffix: output file suffix (decides what can be copied).
        start, stop: optional time window in seconds (Fractions); packets outside are dropped.
    """

    def __init__(self, source: str | Path, output, suffix: str,
                 start: Fraction | None = None, stop: Fraction | None = None) -> None:
        self._input = open_input(source)
        self._pairs = []
        self.reencoded: list[str] = []
        self._start, self._stop = start, stop
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
            when = (pkt.pts if pkt.pts is not None else pkt.dts) * pkt.time_base
            if t is not None and when > t + (self._start or 0):
                self._pending = pkt
                break
            self._mux(pkt, when, output)

    def _mux(self, pkt, when: Fraction, output) -> None:
        if self._stop is not None and when >= self._stop:
            return
        if self._start is not None and when < self._start:
            return
        for ist, ost, resampler in self._pairs:
            if pkt.stream is not ist:
                continue
            if resampler is None:
                if self._start:
                    shift = int(self._start / pkt.time_base)
                    pkt.pts = None if pkt.pts is None else pkt.pts - shift
                    pkt.dts = None if pkt.dts is None else pkt.dts - shift
                pkt.stream = ost
                output.mux(pkt)
            else:
                for frame in pkt.decode():
                    frame.pts = None
                    for rframe in resampler.resample(frame):
                        for opkt in ost.encode(rframe):
                            output.mux(opkt)

    def finish(self, output) -> None:
        """Mux what is left and drain re-encoders."""
        self.advance_to(None, output)
        for _, ost, resampler in self._pairs:
            if resampler is not None:
                for rframe in resampler.resample(None):
                    for opkt in ost.encode(rframe):
                        output.mux(opkt)
                for opkt in ost.encode(None):
                    output.mux(opkt)
        self._input.close()

    def close(self) -> None:
        self._input.close()
