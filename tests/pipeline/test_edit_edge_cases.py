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
