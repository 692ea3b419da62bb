"""The exceptions lipread raises for failures a user can cause.

Every one is a :class:`LipreadError`, so ``except lipread.LipreadError`` catches them all, and every
message names the file (or object) and what is wrong with it.
"""

from __future__ import annotations

__all__ = [
    "AlignmentError",
    "ArgumentError",
    "BackendError",
    "CheckpointError",
    "DataError",
    "DecodingError",
    "LipreadError",
    "VideoError",
]


class LipreadError(Exception):
    """Base class of every error lipread raises on bad input or a missing dependency."""


class VideoError(LipreadError):
    """A video is missing, unreadable, has no frames, is too short, or shows no face."""


class AlignmentError(LipreadError):
    """A GRID ``.align`` file is malformed or holds an unknown word."""


class CheckpointError(LipreadError):
    """A file is not a lipread checkpoint, holds the wrong config, or is truncated."""


class BackendError(LipreadError):
    """A backend is unknown or not installed; the message says which extra installs it."""


class DecodingError(LipreadError, ValueError):
    """Log-probabilities handed to a CTC decoder have the wrong shape or contain NaN."""


class ArgumentError(LipreadError, ValueError):
    """An argument is out of range: a batch size of 0, a beam width or thread count beyond what can be used."""


class DataError(LipreadError):
    """A training or evaluation data set cannot be found or indexed."""
