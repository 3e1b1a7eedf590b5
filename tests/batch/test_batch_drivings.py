"""A driving is analysed once per run, by a "drivings" step of its own, beside the shots' tracks.

Every chunk and shot that uses the same driving with the same engine and options waits for that
one step and then loads its cache entry. Whether a render analysed or loaded is observed on the
workers themselves: the test counts the calls of the analysis proper
(vedit.pipeline.driving._analyse, which a cache hit never reaches) in every worker process.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path

from vedit.batch import batch_status, load_shot_list, plan_job, run_batch
from vedit.batch.__main__ import main as batch_main


@contextlib.contextmanager
def analyses_on_workers(cluster, log: Path):
    """Count, in every worker of `cluster`, the drivings actually analysed (not loaded): yields
    a function returning the analysed driving paths, one per analysis, in order."""
    from distributed import Client

    def install(path: str) -> None:
        import vedit.pipeline.driving as drv

        original = drv.__dict__.get("_counted_original", drv._analyse)

        def counted(driving, *args, **kwargs):
            with open(path, "a") as fh:
                fh.write(f"{driving}\n")
            return original(driving, *args, **kwargs)

        drv._counted_original = original
        drv._analyse = counted

    def uninstall() -> None:
        import vedit.pipeline.driving as drv

        original = drv.__dict__.pop("_counted_original", None)
        if original is not None:
            drv._analyse = original

    with Client(cluster.scheduler_address) as client:
        client.run(install, str(log))
        try:
            yield lambda: log.read_text().splitlines() if log.exists() else []
        finally:
            client.run(uninstall)


def _steps(job: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((job / "drivings").glob("*.json"))]


def test_a_shared_driving_is_analysed_once_for_every_shot_and_chunk(
        short_media, cluster, tmp_path, yaml_list, alone, same_frames):
    m = short_media
    out, job = tmp_path / "out", tmp_path / "job"
    out.mkdir()
    shots = yaml_list(tmp_path / "three.yaml", [
        # A still source has no tracks step: its render would start at once, beside the
        # analysis, if it did not wait for it.
        {"source": str(m["s0"]), "driving": str(m["d0s"]), "output": str(out / "still.mkv")},
        {"source": str(m["s18"]), "driving": str(m["d0s"]), "output": str(out / "s18.mkv"),
         "out": 36},
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "s13.mkv"),
         "in": 10, "out": 22}], {"preset": "master"})
    plan = plan_job(load_shot_list(shots), job, chunk_frames=12)
    assert [len(s.chunks) for s in plan.shots] == [1, 3, 1]
    caches = {c.config.driving_cache for s in plan.shots for c in s.chunks}
    assert len(caches) == 1
    cache = caches.pop()

    with analyses_on_workers(cluster, tmp_path / "analysed.log") as analysed:
        result = run_batch(shots, job_dir=job, scheduler=cluster.scheduler_address,
                           chunk_frames=12, progress=False)
        assert result.ok, [(s.name, s.error) for s in result.failed]
        assert analysed() == [str(m["d0s"])], "one analysis of the driving in the whole run"

    entries = sorted(cache.glob("*.npz"))
    assert len(entries) == 1 and entries[0].name.startswith("d0s-")
    steps = _steps(job)
    assert len(steps) == 1, "one drivings step for all three shots and five chunks"
    (step,) = steps
    assert step["step"] == "drivings" and step["driving"] == str(m["d0s"])
    assert step["state"] == "done" and step["attempts"] == 1
    assert step["file"] == str(entries[0]) and step["result"]["loaded"] is False
    assert step["result"]["frames"] == 20
    manifest = next((job / "drivings").glob("*.json"))
    chunks = [json.loads(p.read_text()) for p in sorted(job.glob("shots/*/chunk-*.json"))]
    assert len(chunks) == 5 and all(c["state"] == "done" for c in chunks)
    assert min(c["started"] for c in chunks) > step["finished"], "a chunk did not wait"
    for outcome, spec in zip(result.shots, load_shot_list(shots).shots, strict=True):
        record = json.loads((job / "shots" / outcome.shot_id / "shot.json").read_text())
        assert record["drivings"] == [str(manifest)]
        assert outcome.qa["seconds"]["drivings_step"] > 0
        reference = tmp_path / f"alone-{spec.config.output.name}"
        alone(spec.config, reference)
        same_frames(spec.config.output, reference)

    # Resume: a shot to redo finds its driving analysed already; the step is not run again.
    (out / "s13.mkv").unlink()
    with analyses_on_workers(cluster, tmp_path / "again.log") as analysed:
        again = run_batch(shots, job_dir=job, scheduler=cluster.scheduler_address,
                          chunk_frames=12, progress=False)
        assert again.ok, [(s.name, s.error) for s in again.failed]
        assert analysed() == [], "the redone shot loaded the analysis"
    assert [s.reused for s in again.shots] == [True, True, False]
    assert _steps(job) == [step], "the drivings step was run again"
    same_frames(out / "s13.mkv", tmp_path / "alone-s13.mkv")


def test_a_driving_without_a_face_fails_every_shot_using_it_alone(
        short_media, cluster, tmp_path, yaml_list, clip_factory, capsys):
    m = short_media
    no_face = clip_factory(frames=12, size=(96, 64))
    out, job = tmp_path / "out", tmp_path / "job"
    out.mkdir()
    shots = yaml_list(tmp_path / "mixed.yaml", [
        {"source": str(m["s13"]), "driving": str(m["d0s"]), "output": str(out / "ok.mkv"),
         "out": 12},
        {"source": str(m["s13"]), "driving": str(no_face), "output": str(out / "bad_a.mkv"),
         "out": 12},
        {"source": str(m["s18"]), "driving": str(no_face), "output": str(out / "bad_b.mkv"),
         "out": 24},
    ], {"preset": "master"})

    code = batch_main([str(shots), "--job", str(job), "--scheduler", cluster.scheduler_address,
                       "--quiet", "--retries", "1", "--chunk-frames", "12"])

    assert code == 1, "the run must say some shots failed"
    err = capsys.readouterr().err
    problem = f"{no_face}: no face found in the driving clip"
    for name in ("bad_a", "bad_b"):
        line = next(t for t in err.splitlines() if t.startswith(f"FAILED {name} "))
        assert problem in line, line
    assert "FAILED ok" not in err
    assert (out / "ok.mkv").exists()
    assert not (out / "bad_a.mkv").exists() and not (out / "bad_b.mkv").exists()
    status = batch_status(job)
    states = {s.name: s for s in status.shots}
    assert states["ok"].state == "done"
    for name in ("bad_a", "bad_b"):
        assert states[name].state == "failed"
        assert states[name].error == f"drivings: {problem}"
    assert not list(job.glob("shots/bad_*/chunk-*.json")), "a chunk ran without its driving"
    steps = {s["driving"]: s for s in _steps(job)}
    assert set(steps) == {str(m["d0s"]), str(no_face)}
    bad = steps[str(no_face)]
    # One step for both shots, not retried: a driving without a face is a property of the input.
    assert bad["state"] == "failed" and bad["attempts"] == 1 and problem in bad["error"]
    assert steps[str(m["d0s"])]["state"] == "done"
    assert problem in (job / "report.html").read_text()
