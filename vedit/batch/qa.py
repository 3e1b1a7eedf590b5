"""Per-shot QA (JSON) and one HTML contact sheet per job: which shots an editor should review.

Everything here is measured from what the batch already has -- the EditResult of every chunk,
the shot's face tracks (.npz) and the output file -- so QA costs three decoded frames per shot
and a few array operations, not another analysis pass.

Metrics per face:
* animated_share: frames the face was re-animated / frames rendered. Below 1 means the face was
  missing (or not driven) on some frames: those frames are the source's.
* present_share, detected_share, mean_confidence: how well the tracker held the face.
* crop_jitter: median frame-to-frame acceleration (|second difference|) of the paste-back crop
  centre, as a fraction of the crop size: the output face rides on it, so a shaky crop is a
  shaky face (steady motion scores ~0, a dancer's real moves score too).
* landmark_jitter: the same for the mesh landmarks around their per-frame centre, as a
  fraction of the face width: where the face is does not count, only its shape wobbling
  (tracking noise, or very fast expression changes).
"""
from __future__ import annotations

import html
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vedit.batch.manifest import write_json

THUMB_WIDTH = 320
# Review thresholds: a face animated on fewer frames than this, or a track shakier than this
# fraction of the face size per frame^2, is flagged for a look.
MIN_ANIMATED_SHARE = 0.9
MAX_JITTER = 0.01


def merge_results(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Add up the EditResult summaries of a shot's chunks (frames, animated frames, seconds)."""
    frames = 0
    animated: dict[str, int] = {}
    seconds: dict[str, float] = {}
    drivings: dict[str, str] = {}
    faces: list[int] = []
    warnings: list[str] = []
    for r in results:
        frames += int(r.get("frames", 0))
        for tid, n in (r.get("animated_frames") or {}).items():
            animated[str(tid)] = animated.get(str(tid), 0) + int(n)
        for stage, s in (r.get("seconds") or {}).items():
            seconds[stage] = seconds.get(stage, 0.0) + float(s)
        drivings.update({str(k): v for k, v in (r.get("drivings") or {}).items()})
        faces = sorted(set(faces) | {int(f) for f in r.get("faces", [])})
        warnings += [w for w in r.get("warnings", []) if w not in warnings]
    return {"frames": frames, "faces": faces, "animated_frames": animated,
            "drivings": drivings, "warnings": warnings, "seconds": seconds}


def track_metrics(tracks_file: Path | None, start: int, stop: int) -> dict[str, dict]:
    """Per face ID (as str): presence, detection and jitter over frames [start, stop)."""
    if tracks_file is None or not Path(tracks_file).exists():
        return {}
    from vedit.faces import ShotTracks

    shot = ShotTracks.load(tracks_file)
    out: dict[str, dict] = {}
    for track in shot.tracks:
        a, b = max(start, track.start), min(stop, track.stop)
        if a >= b:
            out[str(track.track_id)] = {"present_frames": 0, "present_share": 0.0}
            continue
        sl = slice(a - track.start, b - track.start)
        valid = track.valid[sl]
        size = np.nanmedian(track.boxes[sl][valid, 2] - track.boxes[sl][valid, 0]) \
            if valid.any() else float("nan")
        centre = np.einsum("tij,j->ti", track.crop_to_frame[sl],
                           np.array([track.crop_size / 2, track.crop_size / 2, 1.0]))
        scale = np.linalg.norm(track.crop_to_frame[sl][:, :, 0], axis=1) * track.crop_size
        out[str(track.track_id)] = {
            "first_frame": a, "last_frame": b - 1,
            "present_frames": int(valid.sum()),
            "present_share": round(float(valid.sum()) / (stop - start), 4),
            "detected_share": round(float(track.detected[sl][valid].mean()), 4)
            if valid.any() else 0.0,
            "mean_confidence": round(float(track.confidence[sl][valid].mean()), 4)
            if valid.any() else 0.0,
            "face_size_px": _num(size),
            "crop_jitter": _num(_jitter(centre, np.nanmedian(scale))),
            "landmark_jitter": _num(_jitter(_centred(track.landmarks[sl][..., :2]), size)),
        }
    return out


def _centred(landmarks: np.ndarray) -> np.ndarray:
    """(T, K, 2) landmarks minus each frame's mean: the face's shape, without where it is."""
    return landmarks - landmarks.mean(axis=1, keepdims=True)


def _jitter(points: np.ndarray, size: float) -> float:
    """Median |second difference| over consecutive present frames, / size (NaN if too short)."""
    if len(points) < 3 or not np.isfinite(size) or size <= 0:
        return float("nan")
    acc = points[2:] - 2 * points[1:-1] + points[:-2]
    norms = np.linalg.norm(acc.reshape(len(acc), -1, 2), axis=-1).mean(axis=-1)
    norms = norms[np.isfinite(norms)]
    return float(np.median(norms) / size) if len(norms) else float("nan")


def _num(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 5)


def shot_report(*, shot_id: str, name: str, location: str, output: Path,
                frames: tuple[int, int], merged: Mapping[str, Any],
                tracks: Mapping[str, dict], thumbs: Sequence[str],
                seconds: Mapping[str, float]) -> dict[str, Any]:
    """The QA document of one finished shot, with the reasons to review it (if any)."""
    rendered = max(1, int(merged.get("frames", 0)))
    faces: dict[str, dict] = {}
    review: list[str] = []
    for tid in [str(f) for f in merged.get("faces", [])]:
        animated = int(merged.get("animated_frames", {}).get(tid, 0))
        entry = {"driving": merged.get("drivings", {}).get(tid),
                 "animated_frames": animated,
                 "animated_share": round(animated / rendered, 4), **tracks.get(tid, {})}
        faces[tid] = entry
        if entry["driving"] and entry["animated_share"] < MIN_ANIMATED_SHARE:
            review.append(f"face {tid} animated on {entry['animated_share']:.0%} of frames")
        jitter = entry.get("landmark_jitter")
        if jitter is not None and jitter > MAX_JITTER:
            review.append(f"face {tid}: shaky track (landmark jitter {jitter:.3f})")
    if not faces:
        review.append("no face found: the shot is written unchanged")
    review += [f"warning: {w}" for w in merged.get("warnings", [])]
    return {"shot": shot_id, "name": name, "location": location, "output": str(output),
            "frames": merged.get("frames", 0), "range": list(frames),
            "faces": faces, "seconds": {k: round(v, 3) for k, v in seconds.items()},
            "warnings": list(merged.get("warnings", [])), "thumbnails": list(thumbs),
            "review": review}


def write_thumbnails(video: Path, folder: Path) -> list[str]:
    """First, middle and last frame of `video` as PNGs (THUMB_WIDTH wide); their file names."""
    import cv2

    from vedit.io import frame_pts, open_video

    n = len(frame_pts(video))
    wanted = {0: "first", n // 2: "middle", max(n - 1, 0): "last"}
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    with open_video(video) as reader:
        for frame in reader:
            if frame.index not in wanted:
                continue
            rgb = frame.rgb()
            h, w = rgb.shape[:2]
            small = cv2.resize(rgb, (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w))),
                               interpolation=cv2.INTER_AREA)
            name = f"{wanted[frame.index]}.png"
            tmp = folder / f".{name}.{os.getpid()}.png"
            cv2.imwrite(str(tmp), cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
            os.replace(tmp, folder / name)
            names.append(name)
            if frame.index >= max(wanted):
                break
    return [n for n in ("first.png", "middle.png", "last.png") if n in names]


def write_qa(path: Path, report: Mapping[str, Any]) -> None:
    write_json(path, dict(report))


# -- HTML contact sheet -----------------------------------------------------------------------
_CSS = """body{font:14px sans-serif;margin:1.5em;background:#111;color:#ddd}
table{border-collapse:collapse}td,th{border-bottom:1px solid #333;padding:.5em;
vertical-align:top;text-align:left}img{width:160px;margin-right:4px}
.done{color:#7c7}.failed{color:#f66}.pending,.running{color:#cc7}.review{color:#fb4}
small{color:#999}"""


def write_contact_sheet(path: Path, title: str, rows: Sequence[Mapping[str, Any]]) -> Path:
    """One HTML page for the job: per shot, thumbnails, state, faces, timing, review notes.

    Args:
        path: JOB/report.html (thumbnail links are relative to its folder).
        title: page heading.
        rows: per shot: "shot", "name", "location", "output", "state", "error", and the QA
            report ("qa", may be empty) whose thumbnails live in JOB/shots/<shot>/thumbs/.
    """
    esc = html.escape
    body = [f"<h1>{esc(title)}</h1>"]
    failed = sum(1 for r in rows if r.get("state") == "failed")
    flagged = sum(1 for r in rows if (r.get("qa") or {}).get("review"))
    body.append(f"<p>{len(rows)} shots, {failed} failed, {flagged} to review</p>")
    body.append("<table><tr><th>shot</th><th>first / middle / last</th><th>faces</th>"
                "<th>time</th><th>review</th></tr>")
    for r in rows:
        qa = r.get("qa") or {}
        thumbs = "".join(f'<img src="shots/{esc(r["shot"])}/thumbs/{esc(t)}" alt="{esc(t)}">'
                         for t in qa.get("thumbnails", []))
        faces = "<br>".join(
            f"face {esc(tid)}: {f.get('animated_share', 0):.0%} animated"
            f"{_fmt_jitter(f.get('landmark_jitter'))}" for tid, f in qa.get("faces", {}).items())
        seconds = qa.get("seconds", {})
        timing = "<br>".join(f"{esc(k)} {v:.1f} s" for k, v in seconds.items())
        notes = [esc(r["error"])] if r.get("error") else []
        notes += [esc(n) for n in qa.get("review", [])]
        state = esc(str(r.get("state", "?")))
        body.append(
            f"<tr><td><b>{esc(r['name'])}</b><br><span class='{state}'>{state}</span><br>"
            f"<small>{esc(r['location'])}<br>{esc(r['output'])}<br>"
            f"{qa.get('frames', '')} frames</small></td><td>{thumbs}</td><td>{faces}</td>"
            f"<td><small>{timing}</small></td><td class='review'>{'<br>'.join(notes)}</td></tr>")
    body.append("</table>")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _fmt_jitter(value: float | None) -> str:
    return "" if value is None else f", jitter {value:.4f}"
