"""Where a batch runs: a local Dask cluster sized to the machine, or an existing one.

* Local, CPU: one worker *process* per core, one thread each. Rendering is Python + OpenCV +
  MediaPipe; processes sidestep the GIL and keep one crashing shot from taking the others down
  (the nanny restarts the worker and the step is retried).
* Local, GPUs: one worker per GPU, each seeing only its own card (CUDA_VISIBLE_DEVICES) and
  offering the resource {"GPU": 1}; steps ask for it, so two shots never share a card.
* Remote (``scheduler="tcp://host:port"``): join it as is; steps ask for {"GPU": 1} only when
  its workers offer that resource.

GPUs are counted with ``nvidia-smi -L`` (honouring CUDA_VISIBLE_DEVICES) rather than by
importing torch: torch is not ours to import here (vedit's import walls) and costs seconds.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from vedit.batch.tasks import THREAD_VARS


@dataclass(frozen=True)
class ClusterInfo:
    """What the batch runs on.

    Attributes:
        address: the scheduler's address.
        dashboard: the dashboard's URL (None when unavailable, e.g. bokeh not installed).
        workers: workers when the run started.
        gpu: steps ask for {"GPU": 1}.
        local: the cluster was started for this run (and is closed after it).
    """

    address: str
    dashboard: str | None
    workers: int
    gpu: bool
    local: bool


def count_gpus() -> int:
    """CUDA devices visible to this process, without importing torch (0 when unknown)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return 0
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return 0
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    found = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    if visible is not None:
        found = min(found, len([v for v in visible.split(",") if v.strip()]))
    return found


@contextlib.contextmanager
def open_cluster(workers: int | None = None, scheduler: str | None = None,
                 gpus: int | None = None, allowed_failures: int = 3,
                 ) -> Iterator[tuple[object, ClusterInfo]]:
    """A connected dask.distributed Client and what it runs on; local clusters are closed after.

    Args:
        workers: local worker processes (None: one per core, or one per GPU).
        scheduler: "tcp://HOST:PORT" of a running scheduler to join instead.
        gpus: GPUs to use locally (None: count them; 0: CPU workers only).
        allowed_failures: times a step may lose its worker before it is given up (local only).
    """
    import dask
    from distributed import Client

    if scheduler is not None:
        with Client(scheduler, timeout="30s") as client:
            info = client.scheduler_info()
            ws = info.get("workers", {})
            gpu = any((w.get("resources") or {}).get("GPU") for w in ws.values())
            yield client, ClusterInfo(scheduler, _dashboard(client), len(ws), gpu, False)
        return
    n_gpus = count_gpus() if gpus is None else gpus
    env = {var: "1" for var in THREAD_VARS}
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
        if n_gpus > 0:
            cluster = _gpu_cluster(workers or n_gpus, n_gpus, env)
        else:
            from distributed import LocalCluster

            cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1,
                                   threads_per_worker=1, processes=True, host="127.0.0.1",
                                   dashboard_address=":0", env=env)
        try:
            with Client(cluster) as client:
                n = len(client.scheduler_info().get("workers", {}))
                yield client, ClusterInfo(cluster.scheduler_address, _dashboard(client), n,
                                          n_gpus > 0, True)
        finally:
            cluster.close()


def _gpu_cluster(workers: int, n_gpus: int, env: dict[str, str]):
    """One worker per GPU, pinned with CUDA_VISIBLE_DEVICES, offering {"GPU": 1}."""
    from distributed import Nanny, Scheduler, SpecCluster

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [v.strip() for v in visible.split(",")] if visible else [str(i) for i in range(n_gpus)]
    specs = {
        f"gpu-{i}": {"cls": Nanny, "options": {
            "nthreads": 1, "resources": {"GPU": 1}, "host": "127.0.0.1",
            "env": {**env, "CUDA_VISIBLE_DEVICES": ids[i % len(ids)]}}}
        for i in range(min(workers, n_gpus))
    }
    scheduler = {"cls": Scheduler, "options": {"host": "127.0.0.1", "dashboard_address": ":0"}}
    return SpecCluster(workers=specs, scheduler=scheduler)


def _dashboard(client) -> str | None:
    try:
        services = client.scheduler_info().get("services", {})
    except Exception:  # an old or restricted scheduler: the dashboard is only a convenience
        return None
    if "dashboard" not in services:
        return None
    return client.dashboard_link
