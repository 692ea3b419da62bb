"""Whether a video's frames are evenly spaced in time: lipread counts time in frames at the file's rate, so a
file whose frames are not (a variable frame rate, as phones and screen recorders write) gets word times that
are off, and a warning that says by how much."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["drift", "uneven_note"]


def drift(times: Sequence[float]) -> tuple[float, float]:
    """How far frames with presentation ``times`` (milliseconds, in decoding order) lie from evenly spaced
    frames over the same span (the first frame's time to the last's), and that even spacing: ``(largest
    distance, step)``, both in seconds. ``(0, 0)`` for fewer than three frames, or times that do not increase
    (a file without usable times)."""
    t = np.asarray(times, np.float64)
    if len(t) < 3 or not np.isfinite(t).all() or (np.diff(t) <= 0).any():
        return 0.0, 0.0
    step = (t[-1] - t[0]) / (len(t) - 1)
    return float(np.abs(t - (t[0] + step * np.arange(len(t)))).max()) / 1000.0, step / 1000.0


def uneven_note(times: Sequence[float]) -> str | None:
    """The warning for frames with presentation ``times`` (milliseconds) of which one lies more than a frame
    from even spacing, else None."""
    off, step = drift(times)
    if off <= step:
        return None
    return (
        f"the frames are not evenly spaced in time (a variable frame rate): lipread reads them as evenly spaced, "
        f"so word times may be off by up to {off:.2f} s"
    )
