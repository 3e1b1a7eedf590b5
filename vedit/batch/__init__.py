"""Batch rendering: a shot list (YAML, CSV, OpenTimelineIO) rendered on a Dask cluster.

The only package that imports dask. Every shot is validated before any work starts; long shots
are split into chunks that join losslessly; a job folder of manifests makes a batch resumable
after a crash; each shot gets a QA report and the job an HTML contact sheet.

    result = run_batch("shots.yaml", job_dir="night.job", workers=2)
    if not result.ok: ...          # result.failed lists each failed shot with its error
    print(batch_status("night.job").to_text())
"""
from vedit.batch.plan import DEFAULT_CHUNK_FRAMES, JobPlan, plan_job
from vedit.batch.runner import BatchResult, ShotOutcome, default_job_dir, run_batch
from vedit.batch.shotlist import ShotList, ShotListError, ShotSpec, load_shot_list
from vedit.batch.status import JobStatus, ShotStatus, batch_status

__all__ = [
    "DEFAULT_CHUNK_FRAMES", "BatchResult", "JobPlan", "JobStatus", "ShotList", "ShotListError",
    "ShotOutcome", "ShotSpec", "ShotStatus", "batch_status", "default_job_dir",
    "load_shot_list", "plan_job", "run_batch",
]
