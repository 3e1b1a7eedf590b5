"""Bad rows are all reported before any work; a shot failing at render time fails alone."""
from __future__ import annotations

import json

import pytest

from vedit.batch import ShotListError, batch_status, load_shot_list, run_batch
from vedit.batch.__main__ import main as batch_main
from vedit.errors import ConfigError


def test_every_bad_row_is_reported_with_its_line_before_any_work(short_media, tmp_path,
                                                                 yaml_list):
    m = short_media
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
    out = tmp_path / "out"
    out.mkdir()
    good = {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "a.mkv"),
            "out": 20}
    rows = [
        good,                                                                     # line 4
        {**good, "source": str(tmp_path / "missing.mp4"), "output": str(out / "b.mkv")},
        {**good, "driving": str(corrupt), "output": str(out / "c.mkv")},
        {**good, "preset": "no-such-preset", "output": str(out / "d.mkv")},
        {**good, "colour_grade": "warm", "output": str(out / "e.mkv")},
        {**good, "in": "00:00:99:00", "output": str(out / "f.mkv")},
        {**good, "out": 500, "output": str(out / "g.mkv")},
        {**good},                                                                 # same output
        {**good, "output": str(m["d0s"]), "codec": "h264"},                    # overwrites input
        {**good, "output": str(tmp_path / "nowhere" / "h.mkv")},
        {**good, "codec": "prores", "output": str(out / "i.mp4")},
    ]
    shots = yaml_list(tmp_path / "bad.yaml", rows, {"preset": "master"})
    lines = [i + 1 for i, text in enumerate(shots.read_text().splitlines())
             if text.startswith("- ")]

    with pytest.raises(ShotListError) as caught:
        run_batch(shots, job_dir=tmp_path / "job", workers=1, progress=False)

    assert not (tmp_path / "job").exists(), "work started despite a bad list"
    problems = caught.value.problems
    text = str(caught.value)
    expect = {
        1: "missing.mp4: file not found",
        2: "corrupt.mp4",
        3: "unknown preset 'no-such-preset'",
        4: "unknown option 'colour_grade'",
        5: "bad in point",
        6: "out point 500 is past the source's end (103 frames)",
        7: "a.mkv: output is also written by bad.yaml line",
        8: "output would overwrite an input of bad.yaml line",
        9: "does not exist",
        10: "codec prores cannot be written to a .mp4",
    }
    for row, fragment in expect.items():
        found = [msg for where, msg in problems if fragment in msg]
        assert found, f"row {row}: {fragment!r} not reported in:\n{text}"
    # Each problem names the line of the row it is about (or of the key at fault).
    assert f"bad.yaml line {lines[1]}: {tmp_path / 'missing.mp4'}: file not found" in text
    for where, _ in problems:
        assert where.startswith("bad.yaml line ")
    assert len(problems) == 10
    assert isinstance(caught.value, ConfigError)


def test_csv_rows_are_reported_by_line(short_media, tmp_path):
    m = short_media
    lst = tmp_path / "bad.csv"
    lst.write_text(
        "source,driving,output,in,out,preset,region\n"
        f"{m['s13']},{m['d0s']},{tmp_path / 'a.mkv'},0,20,master,all\n"
        f"{m['s13']},{m['d0s']},{tmp_path / 'b.mkv'},0,20,master,cheeks\n"
        f"{tmp_path / 'nope.mp4'},{m['d0s']},{tmp_path / 'c.mkv'},0,20,master,all\n")
    with pytest.raises(ShotListError) as caught:
        load_shot_list(lst)
    wheres = dict(caught.value.problems)
    assert "region must be one of" in wheres["bad.csv line 3"]
    assert "file not found" in wheres["bad.csv line 4"]


def test_a_shot_failing_at_render_time_fails_alone(short_media, cluster, tmp_path, yaml_list,
                                                   clip_factory, capsys):
    m = short_media
    no_face = clip_factory(frames=12, size=(96, 64))
    out = tmp_path / "out"
    out.mkdir()
    rows = [
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "ok.mkv"),
         "out": 12},
        {"source": str(m["s13"]), "driving": str(no_face), "output": str(out / "noface.mkv"),
         "out": 12},
        {"source": str(m["s13"]), "faces": {5: str(m["d0s"])}, "output": str(out / "id5.mkv"),
         "out": 12},
    ]
    shots = yaml_list(tmp_path / "mixed.yaml", rows, {"preset": "master"})
    job = tmp_path / "job"

    code = batch_main([str(shots), "--job", str(job), "--scheduler", cluster.scheduler_address,
                       "--quiet", "--retries", "1"])

    assert code == 1, "the run must say some shots failed"
    err = capsys.readouterr().err
    assert "FAILED noface" in err and "no face found in the driving clip" in err
    assert "FAILED id5" in err and "no face with ID 5" in err
    assert (out / "ok.mkv").exists()
    assert not (out / "noface.mkv").exists() and not (out / "id5.mkv").exists()
    status = batch_status(job)
    states = {s.name: s for s in status.shots}
    assert states["ok"].state == "done"
    assert states["noface"].state == "failed" and "no face" in states["noface"].error
    assert states["id5"].state == "failed" and "tracks" in states["id5"].error
    # A render-time failure is not retried: it is a property of the inputs. The driving fails
    # in its own analysis step, before any chunk of the shot is rendered.
    drivings = [json.loads(p.read_text()) for p in (job / "drivings").glob("*.json")]
    step = next(d for d in drivings if d["driving"] == str(no_face))
    assert step["attempts"] == 1 and step["state"] == "failed"
    assert not list((job / "shots").glob("noface-*/chunk-*.json"))
    report = (job / "report.html").read_text()
    assert "no face found in the driving clip" in report
    assert "failed" in status.to_text()
