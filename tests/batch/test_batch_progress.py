"""The batch display: render frames advance the shot and batch bars; a driving's analysis gets
a bar of its own that never counts towards the batch's frames."""
from __future__ import annotations

import io

from rich.console import Console

from vedit.batch.progress import BatchProgress


def test_driving_analysis_has_its_own_bar_outside_the_frame_count():
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    display = BatchProgress(console)
    with display:
        display.add_shot("s1", "shot one", total=40)
        display.event((0.0, {"shot": "/media/d0.mp4", "step": "drivings", "stage": "driving",
                             "done": 30, "total": 78}))
        display.event((0.0, {"shot": "/media/d0.mp4", "step": "drivings", "stage": "driving",
                             "done": 78, "total": 78}))
        display.event((0.0, {"shot": "s1", "step": "chunk-000", "stage": "render", "done": 25,
                             "total": 40}))
    tasks = {t.description.strip(): t for t in display._progress.tasks}
    driving = next(t for d, t in tasks.items() if "analysing d0.mp4" in d)
    assert (driving.completed, driving.total) == (78, 78)
    assert tasks["[bold]batch"].completed == 25 and tasks["[bold]batch"].total == 40
    assert tasks["shot one"].completed == 25
