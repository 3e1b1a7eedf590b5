"""In/out renders keep all the audio of their window, and joined pieces time like one render.

s18.mp4 (30 fps, 1/90000 video, AAC 44.1 kHz with priming packets at negative times) is cut by
the writer the way `vedit edit --frames A:B` cuts it, with no engine in the way: frames copied,
so every comparison is exact.
"""
from __future__ import annotations

import itertools
from fractions import Fraction

import av
import numpy as np
import pytest
from support import audio_samples, decoded_planes

from vedit.io import VideoWriter, concat_pieces, frame_pts, open_video

AAC_FRAME = 1024
CODECS = {".mp4": "ffv1", ".mov": "prores", ".mkv": "ffv1"}


def _window(path, start: int, stop: int) -> tuple[Fraction, Fraction]:
    """The audio window of frames [start, stop), as vedit.pipeline.edit computes it."""
    pts = frame_pts(path)
    with open_video(path) as reader:
        tb = reader.info.time_base
    return (pts[start] - pts[0]) * tb, (pts[stop] - pts[0]) * tb


def _render(src, out, start: int, stop: int, *, window=None, rebase=None, audio=True):
    """Frames [start, stop) of `src` copied into `out` (a single in/out render or a piece)."""
    with open_video(src) as reader, VideoWriter(
            out, template=reader.info, codec=CODECS[out.suffix],
            audio_from=src if audio else None, audio_window=window, rebase=rebase) as writer:
        for frame in reader:
            if frame.index >= stop:
                break
            if frame.index >= start:
                writer.write(frame)
    return out


def _audio_span(path) -> tuple[Fraction, Fraction, int]:
    """(first decoded sample's time, end of the last one, sample rate) of the first stream."""
    with av.open(str(path)) as c:
        frames = [(f.pts * f.time_base, f.samples, f.sample_rate) for f in c.decode(audio=0)]
    first = frames[0][0]
    end = frames[-1][0] + Fraction(frames[-1][1], frames[-1][2])
    return first, end, frames[0][2]


@pytest.mark.parametrize("suffix", [".mp4", ".mov", ".mkv"])
def test_windowed_copy_covers_the_whole_window(media, tmp_path, suffix):
    src = media / "s18.mp4"
    start, stop = 16, 46  # 0.533 s: the in point falls inside an AAC packet
    t0, t1 = _window(src, start, stop)
    out = _render(src, tmp_path / f"w{suffix}", start, stop, window=(t0, t1), rebase=t0)

    first, end, rate = _audio_span(out)
    assert first <= 0 < first + Fraction(AAC_FRAME, rate), "audio starts at the in point"
    assert t1 - t0 <= end <= t1 - t0 + Fraction(2 * AAC_FRAME, rate), "audio reaches the out"
    assert decoded_planes(out)[0][0] == 0, "the video is not moved by the audio"
    if suffix != ".mkv":  # edit list: exactly the source's samples from the in point on
        samples = audio_samples(out)[0]
        at = int(t0 * rate)
        assert first == 0
        assert np.array_equal(samples, audio_samples(src)[0][:, at:at + samples.shape[1]])


def test_matroska_without_window_keeps_the_video_timestamps(media, tmp_path):
    """The source's AAC priming packets (negative times) must not push the video off 0."""
    src = media / "s18.mp4"
    out = _render(src, tmp_path / "all.mkv", 0, 10)
    first, _, rate = _audio_span(out)
    assert decoded_planes(out)[0][0] == 0
    assert 0 <= first < Fraction(AAC_FRAME, rate)


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
@pytest.mark.parametrize("start", [13, 0])
def test_joined_in_out_pieces_equal_the_single_render(media, tmp_path, suffix, start):
    """Pieces keep source timestamps; the join rebases them like a single render. Pieces store
    rounded times (Matroska: 1 ms; MP4: a start edit in 1 ms units), so the join is given the
    exact ones: an in point off the millisecond grid (13 at 30 fps) must still match."""
    src = media / "s18.mp4"
    stop = start + 27
    window = _window(src, start, stop)
    single = _render(src, tmp_path / f"single{suffix}", start, stop, window=window,
                     rebase=window[0])
    cuts = [start, start + 9, start + 18, stop]
    pieces = [_render(src, tmp_path / f"piece{k}{suffix}", a, b, audio=False)
              for k, (a, b) in enumerate(itertools.pairwise(cuts))]
    pts = frame_pts(src)
    with open_video(src) as reader:
        tb = reader.info.time_base

    joined = concat_pieces(pieces, tmp_path / f"joined{suffix}", audio_from=src,
                           audio_window=window, rebase=window[0],
                           timestamps=(pts[start:stop], tb))

    a, b = decoded_planes(joined), decoded_planes(single)
    assert [x[0] for x in a] == [y[0] for y in b] and a[0][0] == 0
    assert a == b
    sa, sb = audio_samples(joined), audio_samples(single)
    assert len(sa) == 1 and np.array_equal(sa[0], sb[0])


def _pcm_clip(path, frames: int = 30, rate: int = 48000):
    """A .mov with 25 fps video and PCM audio, which an .mp4 cannot carry (re-encoded)."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = out.add_stream("pcm_s16le", rate=rate, layout="mono")
        for i in range(frames):
            vf = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), "rgb24")
            vf.pts = i
            for p in video.encode(vf.reformat(format="yuv420p")):
                out.mux(p)
        n = rate * frames // 25
        rng = np.random.default_rng(0)  # noise: one clear correlation peak, unlike a tone
        tone = (rng.standard_normal(n) * 3000).astype(np.int16)
        for at in range(0, n, 1000):
            af = av.AudioFrame.from_ndarray(tone[None, at:at + 1000], format="s16",
                                            layout="mono")
            af.sample_rate, af.pts = rate, at
            for p in audio.encode(af):
                out.mux(p)
        for stream in (video, audio):
            for p in stream.encode():
                out.mux(p)
    return path


def test_reencoded_window_is_cut_at_the_in_point(tmp_path):
    src = _pcm_clip(tmp_path / "pcm.mov")
    start, stop = 7, 27
    t0, t1 = _window(src, start, stop)
    out = _render(src, tmp_path / "reencoded.mp4", start, stop, window=(t0, t1), rebase=t0)
    first, end, rate = _audio_span(out)
    assert first == 0
    assert t1 - t0 <= end <= t1 - t0 + Fraction(2 * AAC_FRAME, rate)
    got, source = audio_samples(out)[0][0], audio_samples(src)[0][0]
    probe = got[4096:8192]
    at = int(t0 * rate)
    scores = [float(np.dot(probe, source[off + 4096:off + 8192]))
              for off in range(at - 600, at + 600)]
    assert abs(int(np.argmax(scores)) - 600) <= 1, "the audio is in sync with the in point"
