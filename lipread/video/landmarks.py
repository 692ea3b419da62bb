"""Face landmarks, and the similarity transform that aligns a face to a mean face.

The landmark model is MediaPipe's face mesh (``models/face_landmark.onnx``: 468 points, Apache-2.0, see
the ``.LICENSE`` file beside it; converted from the ``face_landmark.tflite`` of the ``mediapipe`` 0.10.14
wheel by ``tools/convert_face_landmark.py``), run with OpenCV's DNN module: nothing is downloaded at run
time and no other runtime is needed. It reads a 192x192 square around a face that :mod:`.face` found, and
takes about 2.5 ms per frame on one core.

:func:`to_template` maps a face's stable points (eye corners and the nose ridge, which do not move when
the speaker talks) onto :data:`MEAN_FACE` with a similarity transform (rotation, uniform scale,
translation); a mouth crop cut at a fixed place in that frame is the same part of every face, whatever its
size, position and roll in the video.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import BackendError
from .face import Face

__all__ = ["MEAN_FACE", "MODEL_PATH", "STABLE_POINTS", "landmarks", "similarity", "to_template"]

MODEL_PATH = Path(__file__).resolve().parents[1] / "models" / "face_landmark.onnx"
"""The bundled face-mesh model: input ``float32 (1, 192, 192, 3)`` RGB in [0, 1], outputs the 468 points
``(1, 1, 1, 1404)`` as (x, y, z) in input pixels and a face-presence logit ``(1, 1, 1, 1)``."""

_INPUT = 192
"""The landmark model's square input size in pixels."""

_ROI_SCALE = 1.5
"""The square the model reads is this many times the detected face box (MediaPipe's own margin)."""

_OUTPUTS = ("conv2d_21", "conv2d_31")
"""The model's outputs: the points, and the face-presence logit."""

STABLE_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4)
"""Face-mesh indices that talking does not move: the outer and inner corners of the right and left eye,
then down the nose ridge to its tip."""

MEAN_FACE = np.array(
    [
        [-0.5, 0.0],
        [-0.1917, 0.0167],
        [0.1917, 0.0167],
        [0.5, 0.0],
        [0.0, -0.0533],
        [0.0, 0.0351],
        [0.0, 0.1163],
        [0.0, 0.1926],
        [0.0, 0.2749],
        [0.0, 0.3752],
    ]
)
"""Where :data:`STABLE_POINTS` lie on the mean face, in units of the distance between the outer eye corners,
from the point halfway between them (x to the image's right, y down). The generalised Procrustes mean of
the points on 19 frontal frames of nine GRID speakers, made left-right symmetric."""

MOUTH_POINTS = (61, 291, 0, 17, 13, 14)
"""Face-mesh indices of the mouth: its corners, the outer and inner edges of the upper and lower lip."""

_LOCAL = threading.local()


def _net() -> Any:
    """This thread's landmark network, loaded on first use (an OpenCV ``dnn.Net`` is not thread-safe)."""
    net = getattr(_LOCAL, "net", None)
    if net is None:
        import cv2

        try:
            net = _LOCAL.net = cv2.dnn.readNetFromONNX(str(MODEL_PATH))
        except cv2.error as e:
            reason = str(e).strip().splitlines()[-1]
            raise BackendError(f"OpenCV {cv2.__version__} cannot load {MODEL_PATH.name}: {reason}") from None
    return net


def landmarks(frame: np.ndarray, face: Face) -> tuple[np.ndarray, float]:
    """The 468 face-mesh points of the face ``face`` in one ``uint8 (H, W, 3)`` RGB frame.

    Returns:
        ``float64 (468, 2)`` (x, y) in frame pixels, and the model's confidence that a face is there, in
        [0, 1] (a face the detector found scores above 0.99; a wrong box well below 0.5).
    """
    import cv2

    side = _ROI_SCALE * max(face.width, face.height)
    x0, y0 = face.x - side / 2, face.y - side / 2
    scale = _INPUT / side
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    square = cv2.warpAffine(frame, matrix, (_INPUT, _INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    net = _net()
    net.setInput((square.astype(np.float32) * np.float32(1 / 255))[None])
    points, presence = net.forward(list(_OUTPUTS))
    xy = points.reshape(-1, 3)[:, :2].astype(np.float64) / scale + (x0, y0)
    return xy, float(1.0 / (1.0 + np.exp(-float(presence.ravel()[0]))))


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation, uniform scale and translation that bring ``(N, 2)`` points ``source`` closest to
    ``target`` in the least-squares sense (Umeyama, 1991), as a ``float64 (2, 3)`` affine matrix.

    Raises:
        ValueError: fewer than two points, different counts, or all source points in one place.
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[1] != 2 or len(source) < 2:
        raise ValueError(f"need two (N, 2) point sets of the same N >= 2, not {source.shape} and {target.shape}")
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    a, b = source - mu_s, target - mu_t
    variance = float((a**2).sum(axis=1).mean())
    if variance <= 1e-12:
        raise ValueError("the source points all lie in one place")
    u, d, vt = np.linalg.svd(b.T @ a / len(a))
    sign = np.diag([1.0, -1.0 if np.linalg.det(u) * np.linalg.det(vt) < 0 else 1.0])
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(d) @ sign)) / variance
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def to_template(points: np.ndarray) -> np.ndarray:
    """The similarity transform from frame pixels to :data:`MEAN_FACE` units for one face's ``(468, 2)``
    landmarks (``float64 (2, 3)``)."""
    return similarity(points[list(STABLE_POINTS)], MEAN_FACE)
