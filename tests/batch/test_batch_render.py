"""A batch renders exactly what `edit()` renders shot by shot, and chunks join losslessly."""
from __future__ import annotations

import itertools
import json

import pytest
from support import audio_samples, decoded_planes

from vedit.batch import batch_status, load_shot_list, plan_job, run_batch


def _six_shots(m, out):
    return [
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "s13_a.mkv"),
         "out": 20},
        {"source": str(m["s13"]), "driving": str(m["d11s"]), "output": str(out / "s13_b.mkv"),
         "in": 40, "out": 60, "preset": "dub-lipsync", "codec": "ffv1"},
        {"source": str(m["two_faces"]), "faces": {0: str(m["d0s"]), 1: str(m["d11s"])},
         "output": str(out / "two.mkv"), "in": "00:00:00:05", "out": "00:00:01:00"},
        {"source": str(m["s18"]), "driving": str(m["d0s"]), "output": str(out / "s18_a.mkv"),
         "out": 20, "preset": "full-performance", "codec": "ffv1"},
        {"source": str(m["s18"]), "driving": str(m["d3s"]), "output": str(out / "s18_b.mkv"),
         "in": "00:00:03:10", "out": "00:00:04:00", "region": "exp"},
        {"source": str(m["s0"]), "driving": str(m["d0s"]), "output": str(out / "still.mkv")},
    ]


def test_six_shots_on_two_workers_equal_single_renders(short_media, tmp_path, yaml_list,
                                                       alone, same_frames, same_audio):
    out, ref = tmp_path / "out", tmp_path / "ref"
    out.mkdir()
    ref.mkdir()
    shots = yaml_list(tmp_path / "six.yaml", _six_shots(short_media, out),
                      {"preset": "master"})

    result = run_batch(shots, job_dir=tmp_path / "job", workers=2, progress=False)

    assert result.ok, [(s.name, s.error) for s in result.failed]
    assert result.cluster.workers == 2 and result.cluster.local
    listed = load_shot_list(shots)
    assert [s.config.frames for s in listed.shots] == [
        (0, 20), (40, 60), (5, 25), (0, 20), (100, 120), None]
    for spec, outcome in zip(listed.shots, result.shots, strict=True):
        assert outcome.output == spec.config.output and outcome.state == "done"
        reference = ref / spec.config.output.name
        alone(spec.config, reference)
        same_frames(spec.config.output, reference)
        if audio_samples(reference):
            same_audio(spec.config.output, reference)
        qa = json.loads((result.job_dir / "shots" / outcome.shot_id / "qa.json").read_text())
        assert qa["frames"] == outcome.frames > 0
        assert len(qa["thumbnails"]) == 3
        for name in qa["thumbnails"]:
            assert (result.job_dir / "shots" / outcome.shot_id / "thumbs" / name).stat().st_size
    two = result.shots[2].qa
    assert set(two["faces"]) == {"0", "1"}
    assert two["faces"]["0"]["driving"].endswith("d0s.mp4")
    assert two["faces"]["1"]["driving"].endswith("d11s.mp4")
    assert all(f["animated_share"] == 1.0 for f in two["faces"].values())
    html = result.report.read_text()
    assert html.count("<tr>") == 7 and "thumbs/middle.png" in html
    status = batch_status(result.job_dir)
    assert status.ok and status.counts["done"] == 6


def test_four_chunks_join_to_the_single_render_with_audio(short_media, cluster, tmp_path,
                                                          s18_master_list, alone):
    m = short_media
    shots, out = s18_master_list(0, 48)
    plan = plan_job(load_shot_list(shots), tmp_path / "job", chunk_frames=12)
    assert [(c.start, c.stop) for c in plan.shots[0].chunks] == [
        (0, 12), (12, 24), (24, 36), (36, 48)]
    assert all(c.config.keep_timestamps and c.config.tracks_file == plan.shots[0].tracks_file
               for c in plan.shots[0].chunks)

    result = run_batch(shots, job_dir=tmp_path / "job", scheduler=cluster.scheduler_address,
                       chunk_frames=12, progress=False)

    assert result.ok, [(s.name, s.error) for s in result.failed]
    assert not result.cluster.local
    shot_dir = result.job_dir / "shots" / result.shots[0].shot_id
    assert sorted(p.name for p in shot_dir.glob("chunk-*.json")) == [
        f"chunk-00{i}.json" for i in range(4)]
    assert not list(shot_dir.glob("chunk-*.mkv")), "pieces are removed after the join"
    tracks = json.loads((shot_dir / "tracks.json").read_text())
    assert tracks["attempts"] == 1, "the shot is tracked once for all its chunks"

    single = tmp_path / "single.mkv"
    alone(load_shot_list(shots).shots[0].config, single)
    # Audio: muxed once, the same as the single render's, and the source's own samples over
    # the range (packets are copied: after the decoder's first frame, every sample matches).
    joined_audio, single_audio = audio_samples(out / "s18.mkv"), audio_samples(single)
    assert len(joined_audio) == 1 and (joined_audio[0] == single_audio[0]).all()
    source = audio_samples(m["s18"])[0]
    joined = joined_audio[0]
    start = _offset_in(joined[:, 2048:4096], source) - 2048
    assert (joined[:, 1024:] == source[:, start + 1024:start + joined.shape[1]]).all()
    rate = 44100
    assert start < 1024 and abs(start + joined.shape[1] - 48 * rate // 30) <= 1024
    # Picture: bit-identical frames (FFV1) with the same timestamps.
    differ = [i for i, (x, y) in enumerate(zip(decoded_planes(out / "s18.mkv"),
                                               decoded_planes(single), strict=True)) if x != y]
    where = {}
    for i in differ:
        where.setdefault(f"chunk {i // 12} (frames {i // 12 * 12}-{i // 12 * 12 + 11})",
                         []).append(i)
    assert not differ, f"{len(differ)} of 48 frames differ from the single render: {where}"


@pytest.mark.parametrize("chunk_frames, expected", [(0, 1), (None, 1), (25, 2), (10, 5)])
def test_chunk_planning(short_media, tmp_path, yaml_list, chunk_frames, expected):
    m = short_media
    shots = yaml_list(tmp_path / "p.yaml", [
        {"source": str(m["s13"]), "driving": str(m["d0"]), "output": str(tmp_path / "a.mkv"),
         "in": 3, "out": 50},
        {"source": str(m["s0"]), "driving": str(m["d0s"]), "output": str(tmp_path / "b.mkv")},
        {"source": str(m["s13"]), "driving": str(m["d0"]), "output": str(tmp_path / "c.mkv"),
         "fit": "trim"}], {"preset": "master"})
    plan = plan_job(load_shot_list(shots), tmp_path / "job", chunk_frames)
    a, still, trim = plan.shots
    assert len(a.chunks) == expected
    assert a.chunks[0].start == 3 and a.chunks[-1].stop == 50
    assert all(x.stop == y.start for x, y in itertools.pairwise(a.chunks))
    assert len(still.chunks) == 1 and still.tracks_file is None and still.frames == 20
    assert len(trim.chunks) == 1
    if expected == 1:  # one chunk renders straight to the output, as `vedit edit` would
        assert a.chunks[0].config.output == a.output and not a.chunks[0].config.keep_timestamps


def _offset_in(window, signal) -> int:
    """Where `window` (channels, n) occurs in `signal` exactly (first match)."""
    n = window.shape[1]
    for off in range(signal.shape[1] - n):
        if (signal[:, off:off + n] == window).all():
            return off
    raise AssertionError("the output's audio is not the source's")
