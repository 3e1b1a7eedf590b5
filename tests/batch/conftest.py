"""Batch fixtures: one real 2-worker LocalCluster on loopback for the session, short drivings,
and exact comparisons of decoded frames and audio.

Rendering costs ~0.1-0.3 s per frame per face on a 2-core machine and every render analyses
its whole driving clip, so tests use 20-40 frame in/out ranges and drivings cut to 40 frames
(written once per session with vedit's own writer, into a temp folder, never the repo).
"""
from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pytest
from support import audio_samples, decoded_planes


@pytest.fixture(scope="session")
def cluster():
    """A real dask.distributed LocalCluster: 2 worker processes, 1 thread each, loopback."""
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.WARNING)
    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                     dashboard_address=None, silence_logs=logging.WARNING,
                     env={"OMP_NUM_THREADS": "1"})
    yield c
    c.close()


@pytest.fixture(scope="session")
def short_media(media, tmp_path_factory) -> dict[str, Path]:
    """The shared clips plus drivings cut to their first 40 frames (d11s, d3s) and 20 (d0s)."""
    from vedit.io import VideoWriter, open_video

    folder = tmp_path_factory.mktemp("short")
    out = {p.stem: p for p in media.iterdir()}
    for name, frames in (("d11", 40), ("d3", 40), ("d0", 20)):
        path = folder / f"{name}s.mp4"
        with open_video(media / f"{name}.mp4") as reader, VideoWriter(
                path, template=reader.info, codec="h264") as writer:
            for frame in reader:
                if frame.index >= frames:
                    break
                writer.write(frame)
        out[f"{name}s"] = path
    return out


def write_yaml(path: Path, shots: list[dict], defaults: dict | None = None) -> Path:
    import yaml

    doc = {"defaults": defaults or {}, "shots": shots}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def yaml_list():
    return write_yaml


@pytest.fixture
def s18_master_list(short_media, tmp_path):
    """A one-shot list: s18 driven by the short d0, frames [start, stop), `master` preset,
    rendered to out/s18.mkv. Returns (list path, output folder)."""
    def make(start: int, stop: int) -> tuple[Path, Path]:
        out = tmp_path / "out"
        out.mkdir(exist_ok=True)
        shots = write_yaml(tmp_path / "shots.yaml", [
            {"source": str(short_media["s18"]), "driving": str(short_media["d0s"]),
             "output": str(out / "s18.mkv"), "in": start, "out": stop}], {"preset": "master"})
        return shots, out

    return make


def render_alone(config, output: Path):
    """The shot rendered by itself with edit(), into `output` (the yardstick)."""
    from vedit.pipeline.edit import edit

    return edit(dataclasses.replace(config, output=output))


@pytest.fixture
def alone():
    return render_alone


def assert_same_frames(a: Path, b: Path, *, pts: bool = True) -> None:
    """Decoded frames bit-identical (every plane), same count, same timestamps when asked."""
    fa, fb = decoded_planes(a), decoded_planes(b)
    assert len(fa) == len(fb), f"{a.name}: {len(fa)} frames, {b.name}: {len(fb)}"
    differ = [i for i, (x, y) in enumerate(zip(fa, fb, strict=True))
              if x[1:] != y[1:] or (pts and x[0] != y[0])]
    assert not differ, (f"{a.name} vs {b.name}: {len(differ)} of {len(fa)} frames differ, "
                        f"first ones {differ[:12]}")


@pytest.fixture
def same_frames():
    return assert_same_frames


def assert_same_audio(a: Path, b: Path) -> None:
    sa, sb = audio_samples(a), audio_samples(b)
    assert len(sa) == len(sb) and sa, "audio streams differ in number (or there is none)"
    for x, y in zip(sa, sb, strict=True):
        assert x.shape == y.shape and np.array_equal(x, y)


@pytest.fixture
def same_audio():
    return assert_same_audio
