"""In/out points of a shot list: frame numbers or SMPTE timecodes at the source's own rate.

Editors hand over in/out points as timecodes read off their timeline, so a shot list takes
"HH:MM:SS:FF" (non-drop) and "HH:MM:SS;FF" (drop-frame, 29.97/59.94 only) as well as plain
frame numbers. A timecode counts from the file's first frame (00:00:00:00 = frame 0); a
file's embedded start timecode is not applied. Everything resolves to an integer frame index:
no float seconds.
"""
from __future__ import annotations

import re
from fractions import Fraction

_TIMECODE = re.compile(r"^(\d{1,2}):(\d{2}):(\d{2})([:;.])(\d{2,3})$")


class TimecodeError(ValueError):
    """A frame number or timecode that cannot be read or does not fit the source's rate."""


def nominal_rate(fps: Fraction) -> int:
    """Frames counted per timecode second: 30 for 30000/1001, 24 for 24000/1001, 25 for 25."""
    return max(1, round(fps))


def parse_frame(value: object, fps: Fraction | None) -> int:
    """A frame index from an int, a digit string or a timecode string.

    Args:
        value: 42, "42" or "00:00:01:17" / "00:00:01;17" (drop-frame).
        fps: the source's exact rate (needed for timecodes; None for a still image).

    Raises:
        TimecodeError: unreadable, negative, frames field past the rate, or drop-frame at a
            rate that has none.
    """
    if isinstance(value, bool):
        raise TimecodeError(f"{value!r} is not a frame number or timecode")
    if isinstance(value, int):
        if value < 0:
            raise TimecodeError(f"frame {value} is negative")
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    match = _TIMECODE.match(text)
    if match is None:
        raise TimecodeError(f"{text!r} is neither a frame number nor a HH:MM:SS:FF timecode")
    if fps is None:
        raise TimecodeError(f"timecode {text!r} needs a video source (a still has no rate)")
    hh, mm, ss, sep, ff = match.groups()
    h, m, s, f = int(hh), int(mm), int(ss), int(ff)
    rate = nominal_rate(fps)
    if m >= 60 or s >= 60:
        raise TimecodeError(f"timecode {text!r}: minutes and seconds must be below 60")
    if f >= rate:
        raise TimecodeError(f"timecode {text!r}: frame field {f} is not below the source's "
                            f"{rate} frames per second")
    total_minutes = 60 * h + m
    frames = (3600 * h + 60 * m + s) * rate + f
    if sep == ";":
        if fps.denominator != 1001 or rate % 30:
            raise TimecodeError(f"timecode {text!r} is drop-frame (';') but the source runs "
                                f"at {fps} fps; drop-frame exists only for 29.97 and 59.94")
        drop = 2 * rate // 30
        if s == 0 and f < drop and m % 10:
            raise TimecodeError(f"timecode {text!r} does not exist in drop-frame counting")
        frames -= drop * (total_minutes - total_minutes // 10)
    return frames


def format_timecode(frame: int, fps: Fraction) -> str:
    """Non-drop "HH:MM:SS:FF" of a frame index (for reports)."""
    rate = nominal_rate(fps)
    s, f = divmod(frame, rate)
    m, s = divmod(s, 60)
    h, m = divmod(m, 60)
    return f"{h:02d}:{m:02d}:{s:02d}:{f:02d}"
