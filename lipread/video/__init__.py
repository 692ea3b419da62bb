"""Video in, model input out: the clips a path names (:mod:`~lipread.video.discovery`), a file decoded into frames
(:mod:`~lipread.video.reader`), the face
(:mod:`~lipread.video.face`), its landmarks (:mod:`~lipread.video.landmarks`) and the mouth found in them
(:mod:`~lipread.video.mouth`), and the mouth crops
standardised into the model's input (:mod:`~lipread.video.preprocess`); plus a GIF of those crops
(:mod:`~lipread.video.gif`) to see what the model sees.

It stands on the shared contracts only (:mod:`lipread.errors`, :mod:`lipread.config`, and
:func:`lipread.weights.atomic_write` for the GIF): it knows nothing of datasets, decoders, backends or the CLI.
OpenCV is imported inside the functions that decode, so importing this package costs no OpenCV.
"""

from __future__ import annotations

from .discovery import find_videos
from .mouth import Box, FaceMouthLocator, FixedCrop, MouthLocator
from .preprocess import default_locator, load_clip, load_crops
from .reader import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, VideoInfo, is_frame_folder, iter_frames, probe, read_frames

__all__ = [
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "Box",
    "FaceMouthLocator",
    "FixedCrop",
    "MouthLocator",
    "VideoInfo",
    "default_locator",
    "find_videos",
    "is_frame_folder",
    "iter_frames",
    "load_clip",
    "load_crops",
    "probe",
    "read_frames",
]
