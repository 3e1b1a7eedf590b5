"""Issue 3, acceptance 3: VFR, 10-bit 4:2:2, odd sizes, full range and rotation round-trip."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from support import audio_samples, decoded_planes

from vedit.errors import InputError
from vedit.io import VideoWriter, open_video, probe
from vedit.pipeline.transcode import transcode


def _assert_exact(src, out):
    a, b = decoded_planes(src), decoded_planes(out)
    assert [x[0] for x in a] == [y[0] for y in b], "pts differ"
    assert [x[1] for x in a] == [y[1] for y in b], "pixel formats differ"
    assert all(x[2] == y[2] for x, y in zip(a, b, strict=True)), "planes differ"


def test_variable_frame_rate_keeps_each_timestamp(clip_factory, tmp_path):
    tb = Fraction(1, 90000)
    pts = [0, 3000, 6000, 12000, 13500, 15000, 24000, 27000, 33000, 36000]
    src = clip_factory(frames=len(pts), pts=pts, time_base=tb, audio=True)
    with open_video(src) as r:
        assert [f.pts for f in r] == pts
    for codec in ("ffv1", "h264"):
        out = transcode(src, tmp_path / f"vfr_{codec}.mp4", codec=codec)
        with open_video(out) as r:
            assert [f.pts for f in r] == pts
            assert r.info.time_base == tb
        assert [x.shape for x in audio_samples(out)] == [x.shape for x in audio_samples(src)]
    _assert_exact(src, tmp_path / "vfr_ffv1.mp4")


def test_ten_bit_422_is_kept(clip_factory, tmp_path):
    src = clip_factory(".mov", codec="prores_ks", pix_fmt="yuv422p10le", size=(96, 64))
    assert probe(src).video.pix_fmt == "yuv422p10le"
    out = transcode(src, tmp_path / "p10.mp4", codec="ffv1")
    assert probe(out).video.pix_fmt == "yuv422p10le"
    _assert_exact(src, out)
    pro = transcode(src, tmp_path / "p10.mov", codec="prores")
    assert probe(pro).video.pix_fmt == "yuv422p10le"
    assert probe(pro).video.bit_depth == 10


@pytest.mark.parametrize("codec", ["ffv1", "h264"])
def test_odd_size(clip_factory, tmp_path, codec):
    src = clip_factory(codec="ffv1", size=(721, 405), frames=6)
    info = probe(src).video
    assert (info.width, info.height) == (721, 405)
    out = transcode(src, tmp_path / "odd.mp4", codec=codec)
    with open_video(out) as r:
        assert (r.info.width, r.info.height) == (721, 405)
        assert sum(1 for _ in r) == 6
    if codec == "ffv1":
        _assert_exact(src, out)


def test_full_range_jpeg_yuv(clip_factory, tmp_path):
    """yuvj420p goes out as yuv420p tagged full range: the same planes, the same picture."""
    src = clip_factory(pix_fmt="yuvj420p")
    for codec in ("ffv1", "h264"):
        out = transcode(src, tmp_path / f"j_{codec}.mp4", codec=codec)
        assert probe(out).video.colour.range == 2
    a, b = decoded_planes(src), decoded_planes(tmp_path / "j_ffv1.mp4")
    assert all(x[2] == y[2] for x, y in zip(a, b, strict=True))


def test_rotation_metadata_round_trips(clip_factory, tmp_path):
    src = clip_factory(size=(64, 48), rotation=90)
    info = probe(src).video
    assert info.rotation in (90, 270)
    assert (info.width, info.height) == (48, 64)  # upright
    with open_video(src) as r:
        first = next(iter(r)).rgb()
    assert first.shape == (64, 48, 3)
    out = transcode(src, tmp_path / "rot.mp4", codec="ffv1")
    assert probe(out).video.rotation == info.rotation
    _assert_exact(src, out)


def test_changed_region_only_touches_marked_pixels(media, tmp_path):
    """The writer's passthrough: pixels outside the changed mask decode bit-identical."""
    src = media / "s18.mp4"
    out = tmp_path / "patch.mp4"
    with open_video(src) as r, VideoWriter(out, template=r.info, codec="ffv1") as w:
        for k, f in enumerate(r):
            if k >= 10:
                break
            rgb = f.rgb()
            changed = np.zeros(rgb.shape[:2], bool)
            changed[101:203, 301:419] = True  # odd edges: chroma rounding must stay inside
            rgb[changed] = 255 - rgb[changed]
            w.write(f, rgb, changed)
    a = decoded_planes(src)[:10]
    b = decoded_planes(out)
    grown = np.zeros((720, 1280), bool)
    grown[100:204, 300:420] = True
    for (_, _, pa), (_, _, pb) in zip(a, b, strict=True):
        y_a = np.frombuffer(pa[0], np.uint8).reshape(720, 1280)
        y_b = np.frombuffer(pb[0], np.uint8).reshape(720, 1280)
        assert (y_a[~grown] == y_b[~grown]).all()
        assert (y_a[120:180, 320:400] != y_b[120:180, 320:400]).mean() > 0.9
        u_a = np.frombuffer(pa[1], np.uint8).reshape(360, 640)
        u_b = np.frombuffer(pb[1], np.uint8).reshape(360, 640)
        cgrown = np.zeros((360, 640), bool)
        cgrown[50:102, 150:210] = True
        assert (u_a[~cgrown] == u_b[~cgrown]).all()


def test_matroska_with_audio_past_the_last_picture_reads_whole(media, tmp_path):
    """two_faces' audio runs 40 ms past its last picture. In Matroska the container's
    duration then holds one frame more than the video; the count comes from the video
    stream's own duration, so the file reads whole, and a cut copy is still named truncated."""
    out = transcode(media / "two_faces.mp4", tmp_path / "tf.mkv", codec="ffv1")
    with open_video(out) as r:
        assert r.info.frame_count == 100
        assert sum(1 for _ in r) == 100
    data = out.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated"), open_video(cut) as r:
        for _ in r:
            pass
