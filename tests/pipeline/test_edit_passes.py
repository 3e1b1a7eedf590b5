"""`vedit edit` reads a short shot once: pass 2 renders from the frames pass 1 decoded."""
from __future__ import annotations

from pathlib import Path

from support import decoded_planes

import vedit.pipeline.edit as edit_module
from vedit.pipeline.config import EditConfig

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _render(tmp_path: Path, name: str, monkeypatch, hold_bytes: int) -> tuple[Path, int]:
    """Edit the sample shot; returns the output and how often the source file was opened."""
    opened = []
    real_open = edit_module.open_video

    def counting_open(path, *args, **kwargs):
        if Path(path) == SAMPLES / "source.mp4":
            opened.append(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(edit_module, "open_video", counting_open)
    monkeypatch.setattr(edit_module, "_HOLD_BYTES", hold_bytes)
    out = tmp_path / name
    edit_module.edit(EditConfig(source=SAMPLES / "source.mp4", driving=SAMPLES / "driving.mp4",
                                output=out, codec="ffv1"))
    return out, len(opened)


def test_a_short_shot_is_decoded_once_and_renders_the_same_bytes(tmp_path, monkeypatch):
    held, opens_held = _render(tmp_path, "held.mkv", monkeypatch, 256 << 20)
    twice, opens_twice = _render(tmp_path, "twice.mkv", monkeypatch, 0)
    assert opens_held == 1, opens_held          # pass 1 only
    assert opens_twice >= 2, opens_twice        # pass 1, then the engine's preparation, pass 2
    assert decoded_planes(held) == decoded_planes(twice)


def test_a_shot_over_the_budget_is_decoded_twice(tmp_path, monkeypatch):
    # the sample's 100 frames of 640x360 are about 35 MiB: a 10 MiB budget holds none of them
    _, opens = _render(tmp_path, "out.mkv", monkeypatch, 10 << 20)
    assert opens >= 2, opens
