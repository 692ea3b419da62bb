"""Face detection and tracking in video frames, with a detector that ships inside lipread.

The detector is MediaPipe's BlazeFace short-range model (``models/face_detection_short_range.tflite``,
Apache-2.0, see the ``.LICENSE`` file beside it), run with OpenCV's DNN module: nothing is downloaded at
run time. It finds frontal faces, giving for each a square box and the mouth centre: faces at least about
an eighth of the frame's longer side wide in one look at the whole frame, smaller ones (down to about a
thirtieth, in frames large enough) by searching overlapping windows when the whole frame shows none. The
functions that find the face of a clip (:func:`detect_faces`, :func:`follow_faces`) look at a face found small
in its frame again, through a window around it as large as GRID's frames are around their faces, which gives
its box and mouth as precisely as the detector gives GRID's; :func:`detect` is the single look.

:func:`detect_faces` looks at every ``step``-th frame; :func:`follow_faces` looks at a few frames and adds
detections only where the face moves between them; :func:`face_track` turns either's detections into one
face per frame, dropping outliers and interpolating over frames where detection failed. A
:class:`DetectionMemo` lets several of them (and the warnings of :mod:`lipread.video.notices`) share the
detections of one clip, so that no frame is searched twice.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError

__all__ = [
    "MIN_SCORE",
    "MODEL_PATH",
    "DetectionMemo",
    "Face",
    "FaceTrack",
    "detect",
    "detect_faces",
    "face_track",
    "follow_faces",
    "smallest_face",
]

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "face_detection_short_range.tflite"
"""The bundled BlazeFace short-range detector."""

_INPUT = 128
"""The detector's square input size in pixels."""

_MOUTH_KEYPOINT = 3
"""Index of the mouth centre among BlazeFace's six keypoints (eyes, nose tip, mouth, ears)."""

_NMS_IOU = 0.3
"""Detections overlapping more than this (intersection over union) are merged, as MediaPipe does."""

_LEVELS = 3
"""Search levels tried in turn (see :func:`detect`): the whole frame, then halves, then quarters."""

_MIN_WINDOW = 192
"""The smallest window, in frame pixels, searched at levels above 0 (smaller faces are too coarse to read)."""

_MAX_SHIFT = 0.5
"""A face whose centre is further than this many face widths from the clip's reference face is an outlier."""

_MAX_RESIZE = 1.5
"""A face more than this factor larger or smaller than the clip's reference face is an outlier."""

_FOLLOW_SHIFT = 0.1
""":func:`follow_faces` looks between two detections whose centres lie more than this many face widths apart."""

_FOLLOW_RESIZE = 1.1
""":func:`follow_faces` looks between two detections whose widths differ by more than this factor."""

_FRAMING = 2.8
"""How wide the detector's view of a GRID face is, in face widths: a 360-pixel frame around a face about 128
pixels wide. A face found small in its frame is looked at again through a window this many of its widths wide
(:func:`_refined`), so that the detector sees it as large as it saw GRID's."""

_REFINE_BELOW = 0.8
"""A face is looked at again only when that window is smaller than this share of the frame's longer side: a
frame framed as GRID's (the window about the whole frame) keeps the boxes that the model's crops were cut with."""

MIN_SCORE = 0.75
"""Default detection threshold. Higher than MediaPipe's 0.5: blocky noise scores up to about 0.6, while
faces in GRID's clips score at least 0.87 in 99.5% of frames."""


@dataclass(frozen=True)
class Face:
    """One face in a frame, in pixels of that frame: box centre, box size, mouth centre, confidence in [0, 1]."""

    x: float
    y: float
    width: float
    height: float
    mouth_x: float
    mouth_y: float
    score: float


@dataclass(frozen=True)
class FaceTrack:
    """One face per frame of a clip.

    ``values`` is ``float64 (T, 7)``: columns ``x, y, width, height, mouth_x, mouth_y, score`` as in
    :class:`Face`; ``detected`` is ``bool (T,)``, True where a detection (not interpolation) gave the row.
    """

    values: np.ndarray
    detected: np.ndarray

    def median(self) -> Face:
        """The clip's typical face: the per-column median over all frames."""
        return Face(*(float(v) for v in np.median(self.values, axis=0)))


def _anchors() -> np.ndarray:
    """BlazeFace short-range anchor centres, ``float32 (896, 2)`` as (x, y) in [0, 1].

    Strides 8 and 16 over the 128-pixel input: a 16x16 grid with 2 anchors per cell, then an 8x8 grid
    with 6 (MediaPipe's SsdAnchorsCalculator with fixed anchor size).
    """
    centres: list[tuple[float, float]] = []
    for grid, per_cell in ((16, 2), (8, 6)):
        for row in range(grid):
            for col in range(grid):
                centres += [((col + 0.5) / grid, (row + 0.5) / grid)] * per_cell
    return np.array(centres, dtype=np.float32)


_ANCHORS = _anchors()
_LOCAL = threading.local()
_LOADING = threading.Lock()
"""Held while a thread loads its detector: OpenCV's TFLite importer fails now and then when two threads run it
at once (``Unsupported operator type PAD``)."""


_ENGINES = ("ENGINE_CLASSIC", "ENGINE_OPENCV")
"""OpenCV 5 DNN engines that run the detector, by name, in the order tried: 5.0's new engine (the default
there) fails on the model's two outputs and 5.1 dropped ``ENGINE_CLASSIC``. OpenCV 4 has no engines."""

_OUTPUTS = ("regressors", "classificators")
"""The detector's output layers: box and keypoint offsets ``(1, 896, 16)``, face logits ``(1, 896, 1)``."""


def _load_net() -> Any:
    """A detector network from the first OpenCV engine that runs it, checked on a blank input.

    Raises:
        BackendError: no engine of the installed OpenCV gives both outputs in their expected shapes.
    """
    import cv2

    engines = [getattr(cv2.dnn, name) for name in _ENGINES if hasattr(cv2.dnn, name)] or [None]
    probe = np.zeros((1, 3, _INPUT, _INPUT), np.float32)
    failures = []
    for engine in engines:
        try:
            net = (
                cv2.dnn.readNetFromTFLite(str(MODEL_PATH))
                if engine is None
                else cv2.dnn.readNetFromTFLite(str(MODEL_PATH), engine=engine)
            )
            net.setInput(probe)
            shapes = [tuple(out.shape) for out in net.forward(list(_OUTPUTS))]
        except cv2.error as e:
            failures.append(f"engine {engine}: {str(e).strip().splitlines()[-1]}")
            continue
        if shapes == [(1, len(_ANCHORS), 16), (1, len(_ANCHORS), 1)]:
            return net
        failures.append(f"engine {engine}: outputs of shapes {shapes}")
    tried = "; ".join(failures)
    raise BackendError(f"OpenCV {cv2.__version__} cannot run the face detector {MODEL_PATH.name}: {tried}")


def _net() -> Any:
    """This thread's detector network, loaded on first use (an OpenCV ``dnn.Net`` is not thread-safe)."""
    net = getattr(_LOCAL, "net", None)
    if net is None:
        with _LOADING:
            net = _LOCAL.net = _load_net()
    return net


def _views(h: int, w: int, level: int) -> list[tuple[int, int, int]]:
    """The square windows searched at ``level`` in an ``h`` x ``w`` frame, as (top, left, side) in pixels.

    Level 0 is one window of the frame's longer side centred on the frame (the frame letterboxed);
    level ``k`` tiles the frame with windows of ``1 / 2**k`` of that side, overlapping by half, so every
    face up to half a window wide lies whole in one of them. Windows may reach past the frame's edges.
    """
    side = max(h, w) // 2**level
    if level > 0 and side < _MIN_WINDOW:
        return []

    def starts(size: int) -> list[int]:
        if size <= side:
            return [(size - side) // 2]
        n = -(-2 * (size - side) // side) + 1  # ceil((size - side) / (side / 2)) + 1
        return [round(i * (size - side) / (n - 1)) for i in range(n)]

    return [(top, left, side) for top in starts(h) for left in starts(w)]


def smallest_face(h: int, w: int) -> int:
    """Roughly the narrowest face, in pixels, that :func:`detect_faces` finds in ``h`` x ``w`` frames."""
    return min(side for level in range(_LEVELS) for _, _, side in _views(h, w, level)) // 8


def _window_input(frame: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    """The frame's square window (top, left, side) as detector input: ``float32 (1, 3, 128, 128)`` in [-1, 1].

    Parts of the window outside the frame are black.
    """
    import cv2

    h, w = frame.shape[:2]
    scale = _INPUT / side
    y0, y1, x0, x1 = max(top, 0), min(top + side, h), max(left, 0), min(left + side, w)
    oy, ox = round((y0 - top) * scale), round((x0 - left) * scale)
    rh, rw = min(max(1, round((y1 - y0) * scale)), _INPUT - oy), min(max(1, round((x1 - x0) * scale)), _INPUT - ox)
    square = np.zeros((_INPUT, _INPUT, 3), np.uint8)
    square[oy : oy + rh, ox : ox + rw] = cv2.resize(frame[y0:y1, x0:x1], (rw, rh), interpolation=cv2.INTER_AREA)
    blob = square.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)
    return blob.transpose(2, 0, 1)[None].copy()


def _raw_detections(frame: np.ndarray, top: int, left: int, side: int, min_score: float) -> np.ndarray:
    """Detections in one window scoring at least ``min_score``: ``float64 (N, 7)``.

    Columns ``x, y, width, height, mouth_x, mouth_y`` in frame pixels, then the score.
    """
    net = _net()
    net.setInput(_window_input(frame, top, left, side))
    regressors, logits = net.forward(list(_OUTPUTS))
    logits = logits.reshape(-1).astype(np.float64)
    keep = np.flatnonzero(logits >= np.log(min_score / (1.0 - min_score)))
    raw = regressors.reshape(-1, 16)[keep].astype(np.float64) / _INPUT
    anchors = _ANCHORS[keep].astype(np.float64)
    mouth = raw[:, 4 + 2 * _MOUTH_KEYPOINT : 6 + 2 * _MOUTH_KEYPOINT] + anchors
    out = np.concatenate([raw[:, 0:2] + anchors, raw[:, 2:4], mouth], axis=1) * side
    out[:, [0, 4]] += left
    out[:, [1, 5]] += top
    scores = 1.0 / (1.0 + np.exp(-logits[keep]))
    return np.concatenate([out, scores[:, None]], axis=1)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one ``(4,)`` box with ``(N, 4)`` boxes, all as (x0, y0, x1, y1)."""
    w = np.clip(np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0]), 0, None)
    h = np.clip(np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1]), 0, None)
    inter = w * h
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def detect(frame: np.ndarray, min_score: float = MIN_SCORE, level: int = 0) -> list[Face]:
    """All faces in one ``uint8 (H, W, 3)`` RGB frame scoring at least ``min_score``, best first.

    ``level`` 0 looks at the whole frame at once and finds faces at least about an eighth of its longer
    side wide; level ``k`` looks at overlapping windows of ``1 / 2**k`` of that side, finding faces
    ``2**k`` times smaller at about that many squared times the cost (none below a 192-pixel window).
    Overlapping raw detections are merged by score-weighted averaging (MediaPipe's weighted
    non-maximum suppression).
    """
    if not 0.0 < min_score < 1.0:
        raise ValueError(f"min_score must lie strictly between 0 and 1, not {min_score}")
    h, w = frame.shape[:2]
    found = [_raw_detections(frame, *view, min_score) for view in _views(h, w, level)]
    return _merged(np.concatenate(found) if found else np.zeros((0, 7)))


def _merged(rows: np.ndarray) -> list[Face]:
    """Raw detections ``float64 (N, 7)`` merged by score-weighted averaging where they overlap, best first."""
    centre, size = rows[:, 0:2], rows[:, 2:4]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    faces: list[Face] = []
    order = np.argsort(-rows[:, 6])
    while order.size:
        overlap = _iou(boxes[order[0]], boxes[order]) > _NMS_IOU
        group = rows[order[overlap]]
        weights = group[:, 6] / group[:, 6].sum()
        x, y, width, height, mouth_x, mouth_y = (float(v) for v in (weights[:, None] * group[:, :6]).sum(axis=0))
        faces.append(Face(x, y, width, height, mouth_x, mouth_y, float(rows[order[0], 6])))
        order = order[~overlap]
    return faces


def _largest(frame: np.ndarray, min_score: float, level: int) -> Face | None:
    """The largest face :func:`detect` finds in ``frame`` at ``level`` (:func:`_refined`), or None."""
    faces = detect(frame, min_score, level)
    return _refined(frame, max(faces, key=lambda f: f.width * f.height), min_score) if faces else None


def _refined(frame: np.ndarray, face: Face, min_score: float) -> Face:
    """``face`` as the detector finds it in a window of :data:`_FRAMING` face widths around it, when that window
    is smaller than :data:`_REFINE_BELOW` of the frame's longer side; else (or when the window shows no face
    near it) ``face`` itself.

    A face found small in the whole frame spans a few pixels of the detector's 128-pixel input, and its box and
    mouth are off by several percent: a GRID clip set unscaled on a 960x540 black canvas gave a face 5%
    narrower and a mouth 4 pixels lower than the same pixels in GRID's own frame, and the clip was misread.
    """
    h, w = frame.shape[:2]
    side = round(_FRAMING * face.width)
    if side < 1 or side >= _REFINE_BELOW * max(h, w):
        return face
    top, left = round(face.y - side / 2), round(face.x - side / 2)
    near = [
        f
        for f in _merged(_raw_detections(frame, top, left, side, min_score))
        if np.hypot(f.x - face.x, f.y - face.y) <= _MAX_SHIFT * face.width
    ]
    return near[0] if near else face


class DetectionMemo:
    """The largest face found in frames of one clip, kept by frame index and search level, so that whatever
    looks at a frame again gets the same face without running the detector a second time: the warnings of
    :mod:`lipread.video.notices` and the mouth locator examine some of the same frames, and so do the
    overlapping windows of a long clip.

    Indices count from the clip's first frame. :meth:`from_frame` gives the memo of a part of the clip that
    starts later (a long clip's window, whose frames count from 0 again); both share what they hold. A face is
    given back only for the frame it was found in: each is kept with a checksum of its frame's pixels, and a
    frame asked for under the index of another (a caller that counted wrong) is searched afresh.
    """

    def __init__(self) -> None:
        self._found: dict[tuple[int, float, int], tuple[int, Face | None]] = {}
        self._start = 0

    def from_frame(self, start: int) -> DetectionMemo:
        """The same memo for the frames from ``start`` on, indexed from 0."""
        if start < 0:
            raise ValueError(f"start must be a frame index >= 0, not {start}")
        view = DetectionMemo()
        view._found, view._start = self._found, self._start + start
        return view

    def largest(self, frame: np.ndarray, index: int, min_score: float = MIN_SCORE, level: int = 0) -> Face | None:
        """The largest face in ``frame`` (frame ``index``, ``uint8 (H, W, 3)`` RGB) at search ``level`` (see
        :func:`detect`), or None: detected the first time it is asked for, remembered after."""
        key = (self._start + index, min_score, level)
        # about 0.1 ms for a GRID frame, against 3 ms or more for a detection
        checksum = zlib.crc32(np.ascontiguousarray(frame).data) ^ hash(frame.shape)
        kept = self._found.get(key)
        if kept is None or kept[0] != checksum:
            kept = self._found[key] = (checksum, _largest(frame, min_score, level))
        return kept[1]

    def __len__(self) -> int:
        """Detections held (one per frame and level examined)."""
        return len(self._found)


def _look(frames: np.ndarray, t: int, min_score: float, level: int, memo: DetectionMemo | None) -> Face | None:
    """The largest face in frame ``t`` of ``frames``, from ``memo`` when one is given."""
    return _largest(frames[t], min_score, level) if memo is None else memo.largest(frames[t], t, min_score, level)


def detect_faces(
    frames: np.ndarray, step: int = 3, min_score: float = MIN_SCORE, memo: DetectionMemo | None = None
) -> list[Face | None]:
    """The largest face in every ``step``-th frame of ``uint8 (T, H, W, 3)`` RGB frames.

    The frames are searched whole first (:func:`detect` level 0); only when that finds no face in any of
    them are they searched again in smaller windows (levels 1 and 2), for faces down to about a thirtieth
    of the frame's longer side. A face that fills less of its frame than GRID's faces do is looked at again
    through a window of :data:`_FRAMING` face widths around it. ``memo`` (of these frames) supplies detections
    already made and keeps the new.

    Returns:
        One entry per examined frame ``frames[::step]`` (entry ``i`` is frame ``i * step``): the largest
        face scoring at least ``min_score``, or None where there is none.
    """
    return _detect_levels(frames, step, min_score, range(_LEVELS), memo)


def _detect_levels(
    frames: np.ndarray, step: int, min_score: float, levels: range, memo: DetectionMemo | None = None
) -> list[Face | None]:
    """:func:`detect_faces` trying only ``levels`` (in turn, up to the first that finds a face)."""
    if step < 1:
        raise ValueError(f"step must be at least 1, not {step}")
    found: list[Face | None] = []
    for level in levels:
        found = [_look(frames, t, min_score, level, memo) for t in range(0, frames.shape[0], step)]
        if any(f is not None for f in found):
            break
    return found


def _agree(a: Face, b: Face) -> bool:
    """Whether two detections show the face in about the same place at about the same size."""
    shift = np.hypot(a.x - b.x, a.y - b.y) / max(a.width, 1e-9)
    return bool(shift <= _FOLLOW_SHIFT and 1 / _FOLLOW_RESIZE <= b.width / max(a.width, 1e-9) <= _FOLLOW_RESIZE)


def follow_faces(
    frames: np.ndarray,
    every: int = 15,
    step: int = 3,
    min_score: float = MIN_SCORE,
    memo: DetectionMemo | None = None,
) -> dict[int, Face | None]:
    """The largest face in a few frames of ``uint8 (T, H, W, 3)`` RGB frames: in every ``every``-th frame
    and the last, and in between only where the face moves.

    Between two examined frames more than ``step`` frames apart, the frame halfway is examined too when
    either shows no face or their faces differ (centres more than a tenth of a face width apart, or widths
    by more than 10%), and so on in each half. A face that keeps still (a speaker before a camera: GRID)
    costs ``T / every + 1`` detections instead of ``T / step``; one that moves is followed down to every
    ``step``-th frame. Faces are looked for in the whole frame (:func:`detect` level 0); when no examined
    frame shows one, every ``step``-th frame is searched as :func:`detect_faces` searches it (smaller
    windows for smaller faces). ``memo`` (of these frames) supplies detections already made and keeps the new.

    Returns:
        ``{frame index: face or None}`` for every examined frame, in frame order.
    """
    if every < 1 or step < 1:
        raise ValueError(f"every and step must be at least 1, not {every} and {step}")
    last = frames.shape[0] - 1
    if last < 0:
        return {}
    found = {t: _look(frames, t, min_score, 0, memo) for t in sorted({*range(0, last + 1, every), last})}
    gaps = list(zip(list(found), list(found)[1:]))
    while gaps:
        a, b = gaps.pop()
        fa, fb = found[a], found[b]
        if b - a <= step or (fa is not None and fb is not None and _agree(fa, fb)):
            continue
        middle = (a + b) // 2
        found[middle] = _look(frames, middle, min_score, 0, memo)
        gaps += [(a, middle), (middle, b)]
    if all(f is None for f in found.values()):
        smaller = _detect_levels(frames, step, min_score, range(1, _LEVELS), memo)
        found = {i * step: f for i, f in enumerate(smaller)}
    return dict(sorted(found.items()))


def face_track(
    frames: np.ndarray,
    step: int = 3,
    min_score: float = MIN_SCORE,
    every: int | None = None,
    memo: DetectionMemo | None = None,
) -> FaceTrack | None:
    """One face per frame of ``uint8 (T, H, W, 3)`` RGB frames, or None when no frame shows a face.

    Faces are detected in every ``step``-th frame (:func:`detect_faces`), or, with ``every``, in the frames
    :func:`follow_faces` picks. The reference face is the detection nearest the median of all detections;
    detections whose centre lies more than half a face width from it, or whose size differs from it by more
    than 1.5x, are dropped as outliers. Every frame then gets values interpolated linearly in time from the
    nearest kept detections (held constant before the first and after the last). ``memo`` (of these frames)
    supplies detections already made and keeps the new.
    """
    if every is None:
        found = dict(zip(range(0, frames.shape[0], step), detect_faces(frames, step, min_score, memo)))
    else:
        found = follow_faces(frames, every, step, min_score, memo)
    times = np.array([t for t, f in found.items() if f is not None], dtype=np.int64)
    if times.size == 0:
        return None
    rows = np.array([astuple(f) for f in found.values() if f is not None])
    # The reference is the detection nearest the median face, so at least one detection is kept.
    median = np.median(rows[:, :3], axis=0)
    x, y, w = rows[np.argmin(np.abs(rows[:, :3] - median).sum(axis=1)), :3]
    shift = np.hypot(rows[:, 0] - x, rows[:, 1] - y) / w
    resize = rows[:, 2] / w
    inlier = (shift <= _MAX_SHIFT) & (resize <= _MAX_RESIZE) & (resize >= 1 / _MAX_RESIZE)
    times, rows = times[inlier], rows[inlier]
    every_frame = np.arange(frames.shape[0])
    values = np.stack([np.interp(every_frame, times, rows[:, c]) for c in range(rows.shape[1])], axis=1)
    detected = np.zeros(frames.shape[0], dtype=bool)
    detected[times] = True
    return FaceTrack(values, detected)
