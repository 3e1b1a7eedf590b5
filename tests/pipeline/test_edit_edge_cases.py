"""Issue 5, acceptance 6: frames and shots without faces, driving gaps, bad inputs."""
from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from support import decoded_planes

from vedit.engines import create_engine
from vedit.errors import ConfigError
from vedit.io import VideoWriter, open_video
from vedit.pipeline.config import EditConfig
from vedit.pipeline.driving import analyse_driving
from vedit.pipeline.edit import edit

BLACK = range(4, 7)


@pytest.fixture(scope="module")
def gappy_clip(media, tmp_path_factory):
    """d0's first 12 frames with frames 4-6 black: a face that disappears and returns."""
    out = tmp_path_factory.mktemp("gap") / "gappy.mp4"
    with open_video(media / "d0.mp4") as r, VideoWriter(
            out, width=512, height=512, fps=Fraction(25), codec="ffv1") as w:
        for f in r:
            if f.index >= 12:
                break
            rgb = f.rgb()
            w.write_rgb(np.zeros_like(rgb) if f.index in BLACK else rgb)
    return out


def test_frames_without_a_face_pass_through_unchanged(gappy_clip, media, tmp_path):
    out = tmp_path / "out.mp4"
    result = edit(EditConfig(source=gappy_clip, driving=media / "d11.mp4", output=out,
                             codec="ffv1"))
    assert result.frames == 12
    assert result.animated_frames[0] == 12 - len(BLACK)
    src, dst = decoded_planes(gappy_clip), decoded_planes(out)
    for k in BLACK:
        assert src[k] == dst[k], f"frame {k} without a face was changed"
    assert any(src[k] != dst[k] for k in range(12) if k not in BLACK)


def test_shot_without_any_face_is_written_unchanged_with_a_warning(clip_factory, media,
                                                                   tmp_path, caplog):
    src = clip_factory(frames=8, size=(96, 64))
    out = tmp_path / "noface.mp4"
    result = edit(EditConfig(source=src, driving=media / "d0.mp4", output=out, codec="ffv1"))
    assert result.faces == [] and result.frames == 8
    assert any("no face" in w for w in result.warnings)
    assert any("no face" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert decoded_planes(src) == decoded_planes(out)


def test_driving_without_a_face_holds_the_last_good_expression(gappy_clip, caplog):
    perf = analyse_driving(gappy_clip, create_engine("embedded"))
    assert perf.held.tolist() == [k in BLACK for k in range(12)]
    raw = perf.smoothed.raw
    for k in BLACK:
        np.testing.assert_array_equal(raw.expression[k], raw.expression[BLACK[0] - 1])
    assert any("no face in 3 of 12 driving frames" in r.getMessage() for r in caplog.records)


def test_unknown_face_id_is_a_clear_error(media, tmp_path):
    with pytest.raises(ConfigError, match="no face with ID 3"):
        edit(EditConfig(source=media / "d0.mp4", face_drivings={3: media / "d11.mp4"},
                        output=tmp_path / "x.mp4", frames=(0, 2)))
    assert not (tmp_path / "x.mp4").exists()


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "vedit", *args], capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("case", ["missing source", "corrupt driving", "no face in driving"])
def test_bad_inputs_exit_nonzero_naming_the_file(case, media, tmp_path, clip_factory):
    source, driving = media / "d0.mp4", media / "d11.mp4"
    if case == "missing source":
        source = bad = tmp_path / "nope.mp4"
    elif case == "corrupt driving":
        driving = bad = tmp_path / "broken.mp4"
        bad.write_bytes((media / "d11.mp4").read_bytes()[:5000])
    else:
        driving = bad = clip_factory(frames=6, size=(96, 64))
    out = tmp_path / "out" / "result.mp4"
    out.parent.mkdir()
    proc = _cli("edit", str(source), "-d", str(driving), "-o", str(out), "--frames", "0:3")
    assert proc.returncode == 1, proc.stderr[-2000:]
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("vedit: error:")]
    assert len(errors) == 1 and str(bad) in errors[0], proc.stderr[-2000:]
    assert list(out.parent.iterdir()) == []


def _phone_pair(media, folder, frames: int = 20):
    """s18's first frames twice, losslessly: stored upright, and stored sideways with a display
    matrix that turns them upright (as a phone records portrait footage)."""
    import av  # building the fixture files only

    pictures = []
    with open_video(media / "s18.mp4") as r:
        for f in r:
            if f.index >= frames:
                break
            pictures.append(f.rgb())
    paths = {}
    for name, stored, rotation in (("upright", pictures, None),
                                   ("phone", [np.rot90(p, 1) for p in pictures], -90)):
        path = folder / f"{name}.mkv"
        with av.open(str(path), "w") as out:
            stream = out.add_stream("ffv1", rate=30)
            stream.height, stream.width = stored[0].shape[:2]
            stream.pix_fmt = "yuv444p"
            if rotation is not None:
                stream.set_display_rotation(rotation)
            for picture in stored:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(picture), format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode():
                out.mux(packet)
        paths[name] = path
    return paths


def test_phone_footage_is_edited_upright_and_keeps_its_rotation(media, tmp_path):
    """A source stored sideways with a display matrix is tracked and re-animated upright, and
    written back sideways with the same matrix: its upright pictures equal the edit of the
    same pictures stored upright, pixel for pixel."""
    from vedit.io import probe

    sources = _phone_pair(media, tmp_path)
    assert probe(sources["phone"]).video.rotation == 90
    outs = {}
    for name, src in sources.items():
        outs[name] = tmp_path / f"{name}_out.mkv"
        result = edit(EditConfig(source=src, driving=media / "d11.mp4", output=outs[name],
                                 codec="ffv1"))
        assert result.faces == [0], name
    assert probe(outs["phone"]).video.rotation == 90
    with open_video(outs["upright"]) as a, open_video(outs["phone"]) as b:
        pairs = [(x.rgb(), y.rgb()) for x, y in zip(a, b, strict=True)]
    assert len(pairs) == 20
    for upright, phone in pairs:
        assert phone.shape == upright.shape == (720, 1280, 3)
        assert np.array_equal(phone, upright)
    with open_video(sources["upright"]) as r:
        originals = [f.rgb() for f in r]
    moved = [int(np.abs(o.astype(int) - p.astype(int)).max()) for o, (p, _) in
             zip(originals, pairs, strict=True)]
    assert max(moved) > 30, f"nothing was re-animated: {moved}"
