"""Issue 3, acceptance 5: bad input gives one clear error line, exit != 0 and no output file."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vedit", *args], capture_output=True,
                          text=True, timeout=120)


def _no_output(folder: Path, name: str) -> None:
    leftovers = [p.name for p in folder.iterdir() if name.split(".")[0] in p.name]
    assert not leftovers, f"output or partial file left behind: {leftovers}"


def _one_error_line(proc, *needles: str) -> None:
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("vedit: error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr


def _bad_files(tmp: Path, media: Path) -> dict[str, tuple[Path, str]]:
    empty = tmp / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    data = (media / "s18.mp4").read_bytes()
    cut = tmp / "cut.mp4"  # s18 has its index (moov) first: the cut loses half the frames
    cut.write_bytes(data[: len(data) // 2])
    audio_only = tmp / "audio_only.m4a"
    import av  # building the fixture file only

    with av.open(str(media / "s18.mp4")) as src, av.open(str(audio_only), "w") as dst:
        ost = dst.add_stream_from_template(src.streams.audio[0])
        for pkt in src.demux(src.streams.audio[0]):
            if pkt.dts is not None:
                pkt.stream = ost
                dst.mux(pkt)
    return {
        "missing": (tmp / "nope.mp4", "does not exist"),
        "empty": (empty, "empty"),
        "text": (text, "not a readable media file"),
        "truncated": (cut, "truncated"),
        "audio-only": (audio_only, "no video stream"),
    }


@pytest.mark.parametrize("case", ["missing", "empty", "text", "truncated", "audio-only"])
def test_bad_source(media, tmp_path, case):
    bad, problem = _bad_files(tmp_path, media)[case]
    outdir = tmp_path / "out"
    outdir.mkdir()
    proc = _run("transcode", str(bad), str(outdir / "result.mp4"))
    _one_error_line(proc, str(bad), problem)
    assert not any(outdir.iterdir()), list(outdir.iterdir())
    probe = _run("probe", str(bad))
    if case in ("truncated", "audio-only"):
        return  # probe describes what is there without decoding everything
    _one_error_line(probe, str(bad), problem)


def test_unwritable_output_folder(media, tmp_path):
    proc = _run("transcode", str(media / "d0.mp4"), "/proc/vedit_result.mp4")
    _one_error_line(proc, "/proc/vedit_result.mp4")
    assert not Path("/proc/vedit_result.mp4").exists()
    proc = _run("transcode", str(media / "d0.mp4"), str(tmp_path / "missing_dir" / "r.mp4"))
    _one_error_line(proc, "does not exist")


def test_unknown_codec(media, tmp_path):
    proc = _run("transcode", str(media / "d0.mp4"), str(tmp_path / "r.mp4"), "--codec", "xvid")
    _one_error_line(proc, "unknown codec", "xvid")
    _no_output(tmp_path, "r.mp4")


def test_codec_container_mismatch(media, tmp_path):
    proc = _run("transcode", str(media / "d0.mp4"), str(tmp_path / "r.mp4"), "--codec", "prores")
    _one_error_line(proc, "r.mp4", "prores")
    _no_output(tmp_path, "r.mp4")
