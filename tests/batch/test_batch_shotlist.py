"""Shot lists: YAML, CSV and OTIO make the same job; timecodes; manifests; status."""
from __future__ import annotations

import json
from fractions import Fraction

import pytest

from vedit.batch import batch_status, load_shot_list, plan_job
from vedit.batch import manifest as mf
from vedit.batch.timecode import TimecodeError, format_timecode, parse_frame


def _rows(m, out):
    """(source, in, out, fps, driving, faces, output, preset, options) of a mixed list."""
    return [
        ("s13", 0, 20, 25, "d0", None, "s13_a.mkv", None, {}),
        ("s13", 40, 60, 25, "d11s", None, "s13_b.mkv", "dub-lipsync", {"codec": "ffv1"}),
        ("two_faces", 5, 25, 25, None, {0: "d0", 1: "d11s"}, "two.mkv", None,
         {"scale_damping": 0.25}),
        ("s18", 100, 160, 30, "d3s", None, "s18.mkv", "full-performance",
         {"codec": "ffv1", "region": "exp"}),
        ("s0", None, None, None, "d0s", None, "still.mkv", None, {}),
    ]


def _tc(frame, fps):
    return format_timecode(frame, Fraction(fps))


def _write_csv(path, m, out):
    lines = ["source,driving,faces,output,in,out,preset,codec,region,scale_damping"]
    for src, a, b, fps, drv, faces, output, preset, opts in _rows(m, out):
        face_cell = "; ".join(f"{k}={m[v]}" for k, v in (faces or {}).items())
        lines.append(",".join([
            str(m[src]), str(m[drv]) if drv else "", face_cell, str(out / output),
            _tc(a, fps) if a is not None else "", _tc(b, fps) if b is not None else "",
            preset or "", opts.get("codec", ""), opts.get("region", ""),
            str(opts.get("scale_damping", ""))]))
    path.write_text("\n".join(lines) + "\n")
    return path


def _write_otio(path, m, out, *, driving_track=False):
    import opentimelineio as otio

    timeline = otio.schema.Timeline(name="reel 1")
    timeline.metadata["vedit"] = {"defaults": {"preset": "master"}}
    video = otio.schema.Track(name="V1")
    drivers = otio.schema.Track(name="driving")
    for src, a, b, fps, drv, faces, output, preset, opts in _rows(m, out):
        if a is None:  # a still on a timeline still has a length; its output is the driving's
            a, b, fps = 0, 20, 25
        rng = otio.opentime.TimeRange(otio.opentime.RationalTime(a, fps),
                                      otio.opentime.RationalTime(b - a, fps))
        clip = otio.schema.Clip(name=src, source_range=rng, media_reference=(
            otio.schema.ExternalReference(target_url=m[src].as_uri())))
        meta = {"output": str(out / output), "options": dict(opts)}
        if preset:
            meta["preset"] = preset
        if faces:
            meta["faces"] = {str(k): str(m[v]) for k, v in faces.items()}
        if drv and not driving_track:
            meta["driving"] = str(m[drv])
        clip.metadata["vedit"] = meta
        video.append(clip)
        length = clip.duration()
        if drv and driving_track:
            drivers.append(otio.schema.Clip(name=drv, media_reference=(
                otio.schema.ExternalReference(target_url=str(m[drv]))),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(0, length.rate), length)))
        elif driving_track:
            drivers.append(otio.schema.Gap(duration=length))
    timeline.tracks.append(video)
    if driving_track:
        timeline.tracks.append(drivers)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_yaml_csv_and_otio_make_the_same_job(short_media, tmp_path, yaml_list):
    m, out = short_media, tmp_path / "out"
    out.mkdir()
    yaml_rows = []
    for src, a, b, _fps, drv, faces, output, preset, opts in _rows(m, out):
        row = {"source": str(m[src]), "output": str(out / output), **opts}
        if a is not None:
            row.update({"in": a, "out": b})
        if drv:
            row["driving"] = str(m[drv])
        if faces:
            row["faces"] = {k: str(m[v]) for k, v in faces.items()}
        if preset:
            row["preset"] = preset
        yaml_rows.append(row)
    lists = {
        "yaml": yaml_list(tmp_path / "job.yaml", yaml_rows),
        "csv": _write_csv(tmp_path / "job.csv", m, out),
        "otio": _write_otio(tmp_path / "job.otio", m, out),
        "otio-track": _write_otio(tmp_path / "track.otio", m, out, driving_track=True),
    }
    plans = {}
    for kind, path in lists.items():
        preset = None if kind.startswith("otio") else "master"  # OTIO: in timeline metadata
        shots = load_shot_list(path, preset=preset)
        plans[kind] = plan_job(shots, tmp_path / "job", chunk_frames=25).describe()
    assert plans["csv"] == plans["yaml"]
    assert plans["otio"] == plans["yaml"]
    assert plans["otio-track"] == plans["yaml"]
    s18 = plans["yaml"][3]
    assert s18["frames"] == [100, 160] and len(s18["chunks"]) == 3
    assert s18["config"]["region"] == "exp" and s18["config"]["codec"] == "ffv1"
    assert plans["yaml"][2]["config"]["face_drivings"] == {"0": str(m["d0"]),
                                                           "1": str(m["d11s"])}
    where = [s.location for s in load_shot_list(lists["otio"]).shots]
    assert where[0] == "job.otio clip 1 's13' (track 1 'V1')"


@pytest.mark.parametrize("value, fps, frame", [
    (42, Fraction(25), 42), ("42", Fraction(25), 42), ("00:00:01:17", Fraction(25), 42),
    ("01:00:00:00", Fraction(25), 90000), ("00:00:01:00", Fraction(30000, 1001), 30),
    ("00:01:00;02", Fraction(30000, 1001), 1800), ("00:10:00;00", Fraction(30000, 1001), 17982),
    ("00:00:01:59", Fraction(60000, 1001), 119),
])
def test_timecodes(value, fps, frame):
    assert parse_frame(value, fps) == frame


@pytest.mark.parametrize("value, fps", [
    ("00:00:01:25", Fraction(25)), ("00:61:00:00", Fraction(25)), ("1.5", Fraction(25)),
    ("00:00:01;00", Fraction(25)), ("00:01:00;00", Fraction(30000, 1001)), (-3, Fraction(25)),
    ("00:00:01:00", None), (True, Fraction(25)),
])
def test_bad_timecodes(value, fps):
    with pytest.raises(TimecodeError):
        parse_frame(value, fps)


def test_manifests_are_atomic_and_fingerprints_catch_changes(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    mf.write_json(path, {"a": 1})
    assert mf.read_json(path) == {"a": 1} and list(tmp_path.iterdir()) == [path]
    path.write_text('{"a": ')  # a torn file (never written by vedit) counts as missing
    assert mf.read_json(path) is None

    data = tmp_path / "piece.bin"
    data.write_bytes(b"x" * 5000)
    fp = mf.fingerprint(data)
    assert fp["partial"] is False and mf.matches(data, fp)
    data.write_bytes(b"x" * 4999 + b"y")
    assert not mf.matches(data, fp)

    monkeypatch.setattr(mf, "FULL_HASH_LIMIT", 1000)
    monkeypatch.setattr(mf, "_WINDOW", 100)
    big = mf.fingerprint(data)
    assert big["partial"] is True and "mtime_ns" in big and mf.matches(data, big)
    with open(data, "r+b") as fh:  # a change inside a hashed window is seen
        fh.seek(10)
        fh.write(b"z")
    assert not mf.matches(data, big)

    step = tmp_path / "chunk-000.json"
    assert mf.begin_step(step, "k1", {"step": "chunk-000"}) == 1
    assert mf.begin_step(step, "k1", {"step": "chunk-000"}) == 2  # the first attempt died
    mf.end_step(step, mf.DONE, file_hash=mf.fingerprint(data))
    assert mf.step_done(step, "k1", data) is not None
    assert mf.step_done(step, "other key", data) is None
    assert mf.begin_step(step, "k2", {}) == 1  # new inputs: a fresh count


def test_status_of_a_folder_that_is_not_a_job(tmp_path):
    from vedit.errors import ConfigError

    with pytest.raises(ConfigError, match="not a vedit batch job"):
        batch_status(tmp_path)


def test_status_reads_manifests(tmp_path):
    job = mf.JobFolder(tmp_path)
    mf.write_json(job.job_file, {"shots": [{"id": "a-1"}], "runs": []})
    job.shot_dir("a-1").mkdir(parents=True)
    mf.write_json(job.shot_file("a-1"), {
        "id": "a-1", "name": "a", "location": "l.yaml line 3", "output": "/o/a.mkv",
        "state": "running", "tracks": "t.npz",
        "chunks": [{"step": "chunk-000"}, {"step": "chunk-001"}]})
    mf.begin_step(job.step_file("a-1", "chunk-000"), "k", {"frames": [0, 10]})
    mf.end_step(job.step_file("a-1", "chunk-000"), mf.DONE)
    status = batch_status(tmp_path)
    shot = status.shots[0]
    assert (shot.chunks_done, shot.chunks_total) == (1, 2)
    assert [s.step for s in shot.steps] == ["tracks", "chunk-000", "chunk-001", "join"]
    assert not status.active and "interrupted" in status.to_text()
    assert json.loads(json.dumps(status.to_dict(), default=str))["counts"]["running"] == 1
