"""Where utterances start and end in a stream of frames, decided one frame at a time.

A frame is *speech* when the model, over a sliding window, gives its blank class a posterior below one half
(some character is more likely than silence there). CTC emits a character at a few frames of each spoken
sound and blank between them, so one silent frame says little; a run of ``pause`` frames with no speech
does. :class:`Segmenter` turns the frame-by-frame decisions into :class:`Span` objects: an utterance runs
from its first speech frame to its last, ends after ``pause`` silent frames (a frame without a face counts
as silent), and is cut at ``longest`` frames however long the speaker goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Segmenter", "Span"]


@dataclass(frozen=True)
class Span:
    """An utterance in frames of the stream: speech from frame ``start`` up to, not including, ``stop``."""

    start: int
    stop: int


class Segmenter:
    """Utterances from per-frame speech decisions, fed in order with :meth:`push`.

    Args:
        pause: silent frames (in a row) that end an utterance, at least 1.
        longest: the most frames an utterance spans; one that reaches it ends there, and speech that goes
            on starts the next.
    """

    def __init__(self, pause: int, longest: int) -> None:
        if pause < 1 or longest < 1:
            raise ValueError(f"pause and longest must be at least one frame, not {pause} and {longest}")
        self.pause = pause
        self.longest = longest
        self.frame = 0
        """The index of the next frame :meth:`push` takes."""
        self.start: int | None = None
        """The first speech frame of the utterance in progress; None between utterances."""
        self.last = -1
        """The last speech frame seen."""

    def push(self, speech: bool) -> Span | None:
        """Take the next frame's decision; the utterance it ends, if any."""
        t = self.frame
        self.frame += 1
        if speech:
            if self.start is None:
                self.start = t
            self.last = t
            if t + 1 - self.start >= self.longest:
                return self.cut()
            return None
        if self.start is not None and (t - self.last >= self.pause or t + 1 - self.start >= self.longest):
            return self.cut()  # past the pause, or speech from here on would make it too long
        return None

    def cut(self) -> Span | None:
        """End the utterance in progress now (the stream ends or changes); it, or None when there is none."""
        if self.start is None:
            return None
        span = Span(self.start, self.last + 1)
        self.start = None
        return span
