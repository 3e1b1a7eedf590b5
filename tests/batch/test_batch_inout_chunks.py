"""A shot with in/out points split into chunks joins into exactly its single `edit` render.

Pieces of an in/out shot keep the source's timestamps; the join must rebase them to the in
point and window the audio as a single render does (vedit.io.concat_pieces). The in point is
off the millisecond grid (frame 13 at 30 fps), which Matroska pieces cannot store exactly.
"""
from __future__ import annotations

from fractions import Fraction

from support import audio_samples, decoded_planes

from vedit.batch import load_shot_list, plan_job, run_batch

AAC_FRAME = 1024


def test_chunked_in_out_shot_equals_the_single_render(cluster, tmp_path, s18_master_list,
                                                      alone, same_frames):
    shots, out = s18_master_list(13, 37)
    plan = plan_job(load_shot_list(shots), tmp_path / "job", chunk_frames=8)
    shot = plan.shots[0]
    assert [(c.start, c.stop) for c in shot.chunks] == [(13, 21), (21, 29), (29, 37)]
    cache = {c.config.driving_cache for c in shot.chunks}
    assert len(cache) == 1 and next(iter(cache)).is_relative_to(plan.job.drivings_dir)

    result = run_batch(shots, job_dir=tmp_path / "job", scheduler=cluster.scheduler_address,
                       chunk_frames=8, progress=False)

    assert result.ok, [(s.name, s.error) for s in result.failed]
    single = tmp_path / "single.mkv"
    alone(load_shot_list(shots).shots[0].config, single)
    joined = out / "s18.mkv"
    same_frames(joined, single)  # bit-identical planes, same pts, same count
    assert len(decoded_planes(joined)) == 24 and decoded_planes(joined)[0][0] == 0
    (ja,), (sa,) = audio_samples(joined), audio_samples(single)
    assert abs(ja.shape[1] - sa.shape[1]) <= AAC_FRAME
    assert ja.shape == sa.shape and (ja == sa).all(), "the same audio window, sample for sample"
    assert abs(Fraction(ja.shape[1], 44100) - Fraction(24, 30)) <= Fraction(2 * AAC_FRAME, 44100)
    entries = list(next(iter(cache)).glob("*.npz"))
    assert len(entries) == 1, "one analysis of the driving, shared by all three chunks"
