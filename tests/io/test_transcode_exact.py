"""Issue 3, acceptance 1-2: transcodes keep frames, timing, audio and colour of real clips."""
from __future__ import annotations

import pytest
from support import audio_samples, decoded_planes, decoded_rgb, psnr

from vedit.io import open_video, probe
from vedit.pipeline.transcode import transcode

CLIPS = ["s13.mp4", "s18.mp4", "two_faces.mp4", "d0.mp4", "d3.mp4", "d11.mp4"]


def _colour_carried(src, out, codec: str = "") -> bool:
    """Tags equal; an unspecified range may come out as 'limited' (what decoders assume):
    libx265 always signals a range. DNxHR pictures are always BT.709 (converted)."""
    matrix_ok = src.matrix == out.matrix or (codec == "dnxhr" and out.matrix == 1)
    same = (src.primaries, src.transfer) == (out.primaries, out.transfer) and matrix_ok
    return same and (src.range == out.range or (src.range == 0 and out.range == 1))


def _same_audio(a, b):
    sa, sb = audio_samples(a), audio_samples(b)
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb, strict=True):
        assert x.shape == y.shape
        assert (x == y).all()


@pytest.mark.parametrize("clip", CLIPS)
def test_ffv1_is_bit_exact(media, tmp_path, clip):
    src = media / clip
    out = transcode(src, tmp_path / "out.mp4", codec="ffv1")
    a, b = decoded_planes(src), decoded_planes(out)
    assert len(a) == len(b)
    assert [p for p, _, _ in a] == [p for p, _, _ in b], "per-frame pts differ"
    assert all(x == y for x, y in zip(a, b, strict=True)), "decoded planes differ"
    ia, ib = probe(src), probe(out)
    assert ia.video.fps == ib.video.fps
    assert ia.video.time_base == ib.video.time_base
    assert _colour_carried(ia.video.colour, ib.video.colour)
    assert ia.video.pix_fmt == ib.video.pix_fmt
    _same_audio(src, out)


LOSSY = [("h264", ".mp4"), ("h265", ".mp4"), ("prores", ".mov"), ("dnxhr", ".mov")]


CASES = [("s18.mp4", c, s) for c, s in LOSSY] + [("d3.mp4", "h264", ".mp4"),
                                                  ("d3.mp4", "dnxhr", ".mov")]


@pytest.mark.parametrize(("clip", "codec", "suffix"), CASES)
def test_lossy_codecs_keep_timing_audio_quality(media, tmp_path, codec, suffix, clip):
    src = media / clip
    out = transcode(src, tmp_path / f"out{suffix}", codec=codec)
    with open_video(src) as ra, open_video(out) as rb:
        pairs = list(zip(ra, rb, strict=True))  # strict: same frame count
        assert [f.pts for f, _ in pairs] == [g.pts for _, g in pairs]
        assert ra.info.fps == rb.info.fps and ra.info.time_base == rb.info.time_base
        assert _colour_carried(ra.info.colour, rb.info.colour, codec)
        worst = min(psnr(f.rgb(), g.rgb()) for f, g in pairs[::7])
    assert worst >= 45.0, f"{codec}: PSNR {worst:.2f} dB < 45"
    _same_audio(src, out)


def test_h264_on_every_clip_psnr(media, tmp_path):
    for clip in ("s13.mp4", "two_faces.mp4", "d0.mp4", "d11.mp4"):
        out = transcode(media / clip, tmp_path / f"{clip}", codec="h264")
        values = [psnr(x, y) for k, (x, y) in
                  enumerate(zip(decoded_rgb(media / clip), decoded_rgb(out), strict=True))
                  if k % 10 == 0]
        assert min(values) >= 45.0, (clip, min(values))
