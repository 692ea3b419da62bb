"""The face-based mouth locator on real GRID clips of seven speakers, against hand-marked mouth centres."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import astuple
from pathlib import Path

import cv2
import numpy as np
import pytest

from lipread.config import get_preset
from lipread.errors import BackendError, VideoError
from lipread.video.face import _load_net, detect, detect_faces, face_track
from lipread.video.mouth import GRID_BOX, Box, FaceMouthLocator, MouthLocator, _fit
from lipread.video.preprocess import mouth_crops
from lipread.video.reader import read_frames

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "mouth_centres.json").read_text())
CENTRES: dict[str, dict[str, list[int]]] = FIXTURE["clips"]
"""Hand-marked mouth centres: clip -> frame index -> [column, row] in the 360x288 frame."""

LOCATOR = FaceMouthLocator()
Frames = Callable[[str], np.ndarray]
_FRAMES: dict[str, np.ndarray] = {}


@pytest.fixture
def mpg_frames(shared_data: Path) -> Frames:
    """Decoded frames of one of GRID's original ``.mpg`` clips, by name (decoded once per test run)."""

    def frames(clip: str) -> np.ndarray:
        if clip not in _FRAMES:
            path = shared_data / "grid" / "mpg" / f"{clip}.mpg"
            if not path.is_file():
                pytest.skip(f"{path} not found")
            _FRAMES[clip] = read_frames(path)
        return _FRAMES[clip]

    return frames


def assert_contains_centres(box: Box, clip: str, scale: float = 1.0) -> None:
    for t, (x, y) in CENTRES[clip].items():
        assert box.contains(x * scale, y * scale), f"{clip} frame {t}: mouth ({x}, {y}) x{scale} outside {box}"


def assert_grid_shape(box: Box, frame_h: int, frame_w: int) -> None:
    assert 0 <= box.top < box.bottom <= frame_h and 0 <= box.left < box.right <= frame_w
    assert box.height == pytest.approx(box.width * GRID_BOX.height / GRID_BOX.width, abs=1)


def test_is_a_mouth_locator() -> None:
    assert isinstance(LOCATOR, MouthLocator)
    assert LOCATOR.name == "face-framed"


@pytest.mark.parametrize("clip", sorted(CENTRES))
def test_box_contains_hand_marked_mouth(clip: str, mpg_frames: Frames) -> None:
    frames = mpg_frames(clip)
    box = LOCATOR.locate(frames, source=f"{clip}.mpg")
    assert_contains_centres(box, clip)
    assert_grid_shape(box, *frames.shape[1:3])
    # Sized from the face: between 0.9x and 1.2x the LipNet notebook's box for these similar-sized faces.
    assert 0.9 * GRID_BOX.width <= box.width <= 1.2 * GRID_BOX.width
    # The box centre sits on the mouth row (the crop is short, so this is what matters most).
    for _, y in CENTRES[clip].values():
        assert abs((box.top + box.bottom) / 2 - y) <= 8


def test_matches_the_notebook_box_on_speaker_one(grid_root: Path) -> None:
    """Calibration: on speaker 1 the box is the LipNet notebook's fixed box, up to the speaker's own movement."""
    clips = sorted((grid_root / "s1").glob("*.mp4"))[::100]
    assert len(clips) >= 5
    edges = []
    for path in clips:
        box = LOCATOR.locate(read_frames(path), source=str(path))
        edges.append([getattr(box, e) - getattr(GRID_BOX, e) for e in ("top", "bottom", "left", "right")])
    offsets = np.array(edges)
    # The speaker sits a little differently from session to session, so single clips drift by up to about
    # 15 px (over all 900 clips: median of the largest edge offset 8 px, 90% within 15 px) ...
    assert np.abs(offsets).max() <= 16, dict(zip((p.stem for p in clips), edges))
    # ... but on the whole the box is the notebook's.
    assert np.abs(np.median(offsets, axis=0)).max() <= 5, offsets
    assert np.abs(offsets[0]).max() <= 10, f"{clips[0].stem}: {edges[0]}"


def test_grey_clip_raises_naming_source() -> None:
    frames = np.full((20, 288, 360, 3), 128, np.uint8)
    with pytest.raises(VideoError, match=r"grey\.mp4: no face found .* at least 45 pixels wide"):
        LOCATOR.locate(frames, source="grey.mp4")


def test_noise_clip_raises_naming_source() -> None:
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (20, 36, 45, 3), dtype=np.uint8)
    frames = np.ascontiguousarray(np.repeat(np.repeat(blocks, 8, axis=1), 8, axis=2))  # 288x360 blocky noise
    with pytest.raises(VideoError, match=r"noise\.avi: no face found"):
        LOCATOR.locate(frames, source="noise.avi")
    assert face_track(frames) is None


def test_rejects_frames_of_the_wrong_shape() -> None:
    with pytest.raises(VideoError, match=r"odd\.mp4: expected uint8 frames"):
        LOCATOR.locate(np.zeros((5, 288, 360), np.uint8), source="odd.mp4")


def test_face_lost_for_some_frames(mpg_frames: Frames) -> None:
    frames = mpg_frames("lbbc2a").copy()
    frames[10:21] = 0
    track = face_track(frames)
    assert track is not None
    assert not track.detected[10:21].any() and track.detected[::3].sum() >= 20
    # Interpolated rows lie between the detections on either side.
    lo, hi = np.minimum(track.values[9], track.values[21]), np.maximum(track.values[9], track.values[21])
    assert np.all((track.values[10:21] >= lo - 1e-9) & (track.values[10:21] <= hi + 1e-9))
    box = LOCATOR.locate(frames, source="lbbc2a.mpg")
    assert_contains_centres(box, "lbbc2a")
    full = LOCATOR.locate(mpg_frames("lbbc2a"))
    assert max(abs(a - b) for a, b in zip(vars(box).values(), vars(full).values())) <= 2


def test_face_only_at_the_end(mpg_frames: Frames) -> None:
    frames = mpg_frames("pwij3p").copy()
    frames[:60] = 0
    assert_contains_centres(LOCATOR.locate(frames, source="pwij3p.mpg"), "pwij3p")


def test_box_scales_with_the_face(mpg_frames: Frames) -> None:
    frames = mpg_frames("lbax4n")[::5]
    big = np.stack([cv2.resize(f, (720, 576), interpolation=cv2.INTER_CUBIC) for f in frames])
    small_box, big_box = LOCATOR.locate(frames), LOCATOR.locate(big)
    assert_contains_centres(big_box, "lbax4n", scale=2.0)
    assert_grid_shape(big_box, 576, 720)
    assert big_box.width == pytest.approx(2 * small_box.width, rel=0.05)


def test_small_face_in_a_large_frame(mpg_frames: Frames) -> None:
    # lbbc2a at half size (face ~68 px wide) in a 1280x720 frame: too small to be found in the whole frame
    # at once (about 160 px needed), so the locator searches smaller windows.
    frames = mpg_frames("lbbc2a")[::15]
    canvas = np.empty((len(frames), 720, 1280, 3), np.uint8)
    canvas[:] = frames[0, 5, 5]  # the background colour
    top, left = 250, 700
    canvas[:, top : top + 144, left : left + 180] = [
        cv2.resize(f, (180, 144), interpolation=cv2.INTER_AREA) for f in frames
    ]
    assert detect(canvas[0]) == []
    box = LOCATOR.locate(canvas, source="wide.mp4")
    for x, y in CENTRES["lbbc2a"].values():
        assert box.contains(left + x / 2, top + y / 2), box
    assert box.width == pytest.approx(LOCATOR.locate(mpg_frames("lbbc2a")).width / 2, rel=0.1)


def test_box_is_moved_inside_the_frame(mpg_frames: Frames) -> None:
    # Drop the 110 leftmost columns: lbbc2a's face (columns ~124-261) stays whole, but its mouth box
    # (columns ~97-252) would start left of the frame, so it must shift right, not shrink.
    full = LOCATOR.locate(mpg_frames("lbbc2a"))
    assert full.left < 110
    box = LOCATOR.locate(np.ascontiguousarray(mpg_frames("lbbc2a")[:, :, 110:]))
    assert box.left == 0 and abs(box.width - full.width) <= 4 and abs(box.top - full.top) <= 2
    for x, y in CENTRES["lbbc2a"].values():
        assert box.contains(x - 110, y)


def test_box_larger_than_the_frame_is_shrunk_keeping_its_shape() -> None:
    assert _fit(-5.0, 10.0, 46, 140, 288, 360) == Box(0, 46, 10, 150)  # moved down, same size
    assert _fit(0.0, -20.0, 46, 140, 40, 100) == Box(0, 33, 0, 100)  # too wide: 100 x 33
    assert _fit(3.0, 0.0, 46, 140, 20, 300) == Box(0, 20, 0, 61)  # too tall: 61 x 20


_DETECTIONS_FILE = Path(__file__).parent / "fixtures" / "face_detections.json"
DETECTIONS: dict[str, list[list[float]]] = json.loads(_DETECTIONS_FILE.read_text())["clips"]
"""Reference detections in frames 0, 3, ..., 27 of each clip, made with OpenCV 4.14 and 5.1 (identical)."""


@pytest.mark.parametrize("clip", sorted(DETECTIONS))
def test_detections_are_the_reference_ones(clip: str, mpg_frames: Frames) -> None:
    """Whichever OpenCV runs the detector (4.x: one engine; 5.0 and 5.1: different engine names), the
    boxes, mouth centres and scores are the ones recorded."""
    found = detect_faces(mpg_frames(clip)[:30])
    assert all(f is not None for f in found)
    got = np.array([astuple(f) for f in found if f is not None])
    np.testing.assert_allclose(got, np.array(DETECTIONS[clip]), atol=2e-3)


def test_detector_loads_with_an_engine_that_gives_both_outputs() -> None:
    net = _load_net()
    net.setInput(np.zeros((1, 3, 128, 128), np.float32))
    regressors, logits = net.forward(["regressors", "classificators"])
    assert regressors.shape == (1, 896, 16) and logits.shape == (1, 896, 1)


def test_detector_that_no_engine_runs_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """An OpenCV whose engines all fail on the model (as OpenCV 5.0's default engine does) is named, not a
    cv2 traceback."""

    def broken(*args: object, **kwargs: object) -> None:
        raise cv2.error("forwardWithMultipleOutputs: unsupported")

    monkeypatch.setattr(cv2.dnn, "readNetFromTFLite", broken)
    with pytest.raises(BackendError, match=r"cannot run the face detector face_detection_short_range\.tflite"):
        _load_net()


def test_detect_faces_examines_every_step_th_frame(mpg_frames: Frames) -> None:
    frames = mpg_frames("brbk7n")[:10]
    faces = detect_faces(frames, step=4)
    assert len(faces) == 3
    for face, t in zip(faces, (0, 4, 8)):
        assert face is not None and face.score >= 0.75
        x, y = CENTRES["brbk7n"]["0"]
        assert abs(face.mouth_x - x) <= 6 and abs(face.mouth_y - y) <= 6, (t, face)
        assert face.x - face.width / 2 < face.mouth_x < face.x + face.width / 2


def test_crops_for_a_model(mpg_frames: Frames) -> None:
    config = get_preset("lipnet")
    crops = mouth_crops(mpg_frames("sbwe5n"), config, LOCATOR, source="sbwe5n.mpg")
    assert crops.shape == (75, config.height, config.width, config.channels) and crops.dtype == np.uint8
