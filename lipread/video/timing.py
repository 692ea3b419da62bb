"""Frames evenly spaced in time: lipread counts time in frames at the file's rate, so the frames of a file whose
frames are not (a variable frame rate, as phones and screen recorders write) are placed at their presentation
times first (:class:`EvenTimes`: a frame held on screen for two steps is read twice, one shown for less than
half a step is dropped), and a note tells that it was done (:func:`uneven_note`)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = ["MIN_STEP_MS", "EvenTimes", "drift", "evenly_spaced", "uneven_note"]

MIN_STEP_MS = 1.5
"""Frame times closer than this (milliseconds) are not read as times: a file stating a rate lipread cannot use
(1000 fps or more, :func:`lipread.video.rates.usable_rate`) stamps its frames 1 ms apart or less, and read by
those times at 25 fps its frames would fall into a few. :class:`EvenTimes` reads such a step as one step of
the rate it reads at, which for frames evenly spaced at a usable rate changes nothing."""


def drift(times: Sequence[float]) -> tuple[float, float]:
    """How far frames with presentation ``times`` (milliseconds, in decoding order) lie from evenly spaced
    frames over the same span (the first frame's time to the last's), and that even spacing: ``(largest
    distance, step)``, both in seconds. ``(0, 0)`` for fewer than three frames, or times that do not increase
    by :data:`MIN_STEP_MS` at least (a file without usable times, which :class:`EvenTimes` reads as evenly
    spaced)."""
    t = np.asarray(times, np.float64)
    if len(t) < 3 or not np.isfinite(t).all() or (np.diff(t) < MIN_STEP_MS).any():
        return 0.0, 0.0
    step = (t[-1] - t[0]) / (len(t) - 1)
    return float(np.abs(t - (t[0] + step * np.arange(len(t)))).max()) / 1000.0, step / 1000.0


def uneven_note(times: Sequence[float], even: EvenTimes) -> str | None:
    """The note for frames with presentation ``times`` (milliseconds) of which one lies more than a frame
    from even spacing, else None; ``even``: how they were placed at their times."""
    off, step = drift(times)
    if off <= step:
        return None
    return (
        f"the frames are not evenly spaced in time (a variable frame rate, up to {off:.2f} s from even spacing): "
        f"lipread placed each at its time, as {1000 / even.step:g} fps video ({_count(even.repeated, 'frame')} "
        f"shown again, {even.dropped} dropped)"
    )


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


class EvenTimes:
    """Places decoded frames on an even grid of times, one frame every ``step`` milliseconds from the first
    frame's time: each grid time shows the frame presented nearest to it (the later one of two equally near).

    Frames are told one at a time, by their presentation times; :meth:`push` answers how many grid times the
    frame before shows (0: it is dropped; 2 or more: it is shown again), :meth:`finish` the same for the last
    frame. Frames already evenly spaced at ``step`` (within half a step) each show once, so that reading them
    this way changes nothing. A time that is not finite, or not at least :data:`MIN_STEP_MS` after the one
    before (a file without usable times), counts as one step after it: such frames are read as evenly spaced,
    as before.

    Args:
        step: the grid's spacing in milliseconds (``1000 / fps`` of the rate the frames are read at).
    """

    def __init__(self, step: float) -> None:
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"the step between frame times must be a positive number of milliseconds, not {step}")
        self.step = step
        self.repeated = 0
        """Grid times that showed a frame already shown."""
        self.dropped = 0
        """Frames that no grid time showed."""
        self._origin: float | None = None
        self._last = 0.0
        self._next = 0  # the next grid time's index
        self._held: np.ndarray | None = None  # the frame :meth:`hold` gives out once the next one's time comes

    def push(self, time: float) -> int:
        """A frame presented at ``time`` (milliseconds) comes: how many grid times show the frame before it."""
        if self._origin is None:
            self._origin = self._last = time if math.isfinite(time) else 0.0
            return 0
        if not (math.isfinite(time) and time >= self._last + MIN_STEP_MS):
            time = self._last + self.step
        shown = self._show_until((self._last + time) / 2)
        self._last = time
        return shown

    def finish(self) -> int:
        """No frame comes after the last one told: how many grid times show it (0 when none was told)."""
        return 0 if self._origin is None else self._show_until(self._last + self.step / 2)

    def hold(self, frame: np.ndarray, time: float) -> Iterator[np.ndarray]:
        """Take the next frame (presented at ``time``, milliseconds) and give out the one before it as often as
        the grid shows it: :meth:`push` for a stream of frames, which :meth:`release` ends."""
        shown = self.push(time)
        if self._held is not None:
            yield from _repeat(self._held, shown)
        self._held = frame

    def release(self) -> Iterator[np.ndarray]:
        """The last frame taken by :meth:`hold`, as often as the grid shows it (:meth:`finish`)."""
        if self._held is not None:
            yield from _repeat(self._held, self.finish())
            self._held = None

    def _show_until(self, end: float) -> int:
        """The grid times before ``end`` not yet shown, all showing the latest frame."""
        assert self._origin is not None
        shown = max(0, math.ceil((end - self._origin) / self.step) - self._next)
        self._next += shown
        self.repeated += max(0, shown - 1)
        self.dropped += shown == 0
        return shown


def _repeat(frame: np.ndarray, times: int) -> Iterator[np.ndarray]:
    """``frame`` ``times`` times (copies after the first, which the caller may change in place)."""
    for k in range(times):
        yield frame if k == 0 else frame.copy()


def evenly_spaced(frames: np.ndarray, times: Sequence[float], fps: float) -> np.ndarray:
    """``frames`` ``(T, ...)`` presented at ``times`` (milliseconds) placed on an even grid at ``fps``
    (:class:`EvenTimes`): the array itself when each shows once."""
    even = EvenTimes(1000.0 / fps)
    shown = [even.push(t) for t in times][1:]
    shown.append(even.finish())
    if all(n == 1 for n in shown):
        return frames
    return frames[np.repeat(np.arange(len(frames)), shown)]
