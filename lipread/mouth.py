"""Mouth locators: where the mouth is in a clip, as one steady box per clip."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import VideoError

__all__ = ["GRID_BOX", "Box", "FixedCrop", "MouthLocator"]


@dataclass(frozen=True)
class Box:
    """A pixel box: rows ``top:bottom`` and columns ``left:right`` (end exclusive)."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    def contains(self, x: float, y: float) -> bool:
        """Whether the point (column ``x``, row ``y``) lies inside."""
        return self.left <= x < self.right and self.top <= y < self.bottom


@runtime_checkable
class MouthLocator(Protocol):
    """Finds one mouth box for a clip of ``uint8 (T, H, W, 3)`` RGB frames."""

    name: str

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box:
        """The box to crop from every frame. Raises VideoError when no mouth can be located."""
        ...


GRID_BOX = Box(190, 236, 80, 220)
"""The seed notebook's mouth box for GRID speaker 1 in 360x288 frames (rows 190:236, cols 80:220)."""


@dataclass(frozen=True)
class FixedCrop:
    """The same box in every clip: right for GRID speaker 1 (the default box), wrong for other faces."""

    box: Box = GRID_BOX
    name: str = "fixed"

    def locate(self, frames: np.ndarray, source: str = "<frames>") -> Box:
        """``self.box``; VideoError if the frames are smaller than the box."""
        h, w = frames.shape[1:3]
        if self.box.bottom > h or self.box.right > w:
            raise VideoError(
                f"{source}: frames of {w}x{h} pixels are smaller than the fixed mouth box "
                f"(rows {self.box.top}:{self.box.bottom}, cols {self.box.left}:{self.box.right})"
            )
        return self.box
