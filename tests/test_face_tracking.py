"""Following a face between a few detections (:func:`lipread.video.face.follow_faces`), which the default mouth
locator uses: few detections for a face that keeps still, more where it moves or goes missing, and mouth
boxes within a few pixels of those from detecting in every third frame."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from lipread.video import face
from lipread.video.face import detect_faces, face_track, follow_faces
from lipread.video.mouth import FaceMouthLocator
from lipread.video.reader import read_frames

cv2 = pytest.importorskip("cv2")

CLIPS = ("bbaf2n", "lbbc2a", "pwij3p")


@pytest.fixture(scope="module")
def frames(grid_root: Path) -> dict[str, np.ndarray]:
    out = {}
    for name in CLIPS:
        path = grid_root / "mpg" / f"{name}.mpg"
        if not path.is_file():
            pytest.skip(f"{path} not found")
        out[name] = read_frames(path)
    return out


def count_detections(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the detector so that every frame it examines is recorded; returns the record."""
    seen: list[int] = []
    real = face._largest

    def counted(frame: np.ndarray, min_score: float, level: int) -> face.Face | None:
        seen.append(level)
        return real(frame, min_score, level)

    monkeypatch.setattr(face, "_largest", counted)
    return seen


def test_a_still_face_costs_one_detection_per_interval(
    frames: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = frames["bbaf2n"]
    seen = count_detections(monkeypatch)
    found = follow_faces(clip, every=15)
    last = clip.shape[0] - 1
    assert list(found) == sorted({*range(0, last + 1, 15), last})
    assert len(seen) == len(found) and set(seen) == {0}
    assert all(f is not None for f in found.values())
    dense = detect_faces(clip, step=1)
    for t, f in found.items():  # the same detections as looking at those frames one by one
        assert f == dense[t]


def moving(clip: np.ndarray, pixels: int) -> np.ndarray:
    """The clip with its picture slid ``pixels`` to the right over its length (the face walks across)."""
    out = np.empty_like(clip)
    for t, frame in enumerate(clip):
        shift = np.float64([[1, 0, pixels * t / (len(clip) - 1)], [0, 1, 0]])
        out[t] = cv2.warpAffine(frame, shift, frame.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)
    return out


def test_a_moving_face_is_followed_between_detections(frames: dict[str, np.ndarray]) -> None:
    clip = moving(frames["lbbc2a"][:60], 120)
    found = follow_faces(clip, every=15, step=3)
    assert len(found) > len({*range(0, 60, 15), 59})  # frames were added between the intervals
    times = list(found)
    for a, b in pairwise(times):  # every gap left is short, or its two faces agree
        fa, fb = found[a], found[b]
        assert fa is not None and fb is not None
        assert b - a <= 3 or abs(fb.x - fa.x) <= 0.1 * fa.width
    track = face_track(clip, every=15)
    assert track is not None
    # The followed track stays on the face as it moves: within a few pixels of detections in every frame.
    dense = detect_faces(clip, step=1)
    errors = [abs(track.values[t, 0] - f.x) for t, f in enumerate(dense) if f is not None]
    assert max(errors) <= 6


def test_a_face_missing_from_the_examined_frames_is_searched_for_between_them(
    frames: dict[str, np.ndarray],
) -> None:
    clip = frames["pwij3p"].copy()
    clip[:40] = 0
    clip[50:] = 0  # the face shows only in frames 40-49, between the examined frames 30 and 60 (every 30)
    found = follow_faces(clip, every=30, step=3)
    shown = [t for t, f in found.items() if f is not None]
    assert shown and all(40 <= t < 50 for t in shown)


def test_no_face_anywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    noise = np.random.default_rng(0).integers(0, 256, (30, 288, 360, 3), np.uint8)
    found = follow_faces(noise, every=15, step=3)
    assert all(f is None for f in found.values())
    assert face_track(noise, every=15) is None


def test_arguments_are_checked(frames: dict[str, np.ndarray]) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        follow_faces(frames["bbaf2n"], every=0)
    assert follow_faces(frames["bbaf2n"][:0]) == {}
    assert face_track(frames["bbaf2n"][:0], every=15) is None


def test_default_locator_boxes_are_close_to_detecting_every_third_frame(
    frames: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    followed, dense = FaceMouthLocator(), FaceMouthLocator(every=None, name="face")
    assert followed.name != dense.name  # crop caches keyed by the name never mix the two
    for name, clip in frames.items():
        seen = count_detections(monkeypatch)
        a = followed.locate(clip)
        cheap = len(seen)
        b = dense.locate(clip)
        assert cheap <= 8 < len(seen) - cheap  # 6 detections instead of 25 for a 75-frame clip
        assert max(abs(x - y) for x, y in zip(vars(a).values(), vars(b).values())) <= 3, name


def test_a_face_small_in_a_large_frame_gets_the_box_it_has_in_its_own_frame(
    frames: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same pixels set unscaled on a larger black canvas: the detector's look at the whole frame sees the
    face at a few pixels of its input and misplaces the box (by up to 25 pixels here; a clip was misread);
    looked at again through a window like GRID's frame, the mouth box is the clip's own, moved by the canvas
    offset, within a few pixels (a box about 148 wide)."""

    def errors(clip: np.ndarray, h: int, w: int) -> list[int]:
        top, left = (h - clip.shape[1]) // 2, (w - clip.shape[2]) // 2
        padded = np.zeros((len(clip), h, w, 3), np.uint8)
        padded[:, top : top + clip.shape[1], left : left + clip.shape[2]] = clip
        own, placed = FaceMouthLocator().locate(clip), FaceMouthLocator().locate(padded)
        return [
            abs(placed.top - top - own.top),
            abs(placed.left - left - own.left),
            abs((placed.bottom - placed.top) - (own.bottom - own.top)),
            abs((placed.right - placed.left) - (own.right - own.left)),
        ]

    cases = [(clip[:30], h, w) for clip in frames.values() for h, w in ((480, 640), (720, 1280))]
    refined = [errors(*case) for case in cases]
    monkeypatch.setattr(face, "_REFINE_BELOW", 0.0)  # never a second look
    whole = [errors(*case) for case in cases]
    assert max(max(e) for e in refined) <= 8, refined
    assert sum(map(sum, refined)) * 2 < sum(map(sum, whole)), (refined, whole)


def test_a_face_framed_as_in_grid_is_not_looked_at_again(
    frames: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """GRID's frames keep the boxes the shipped model's crops were cut with: no second look."""
    looks: list[int] = []
    real = face._raw_detections
    monkeypatch.setattr(face, "_raw_detections", lambda *a: looks.append(a[3]) or real(*a))
    for clip in frames.values():
        found = face._largest(clip[0], face.MIN_SCORE, 0)
        assert found is not None and looks == [max(clip.shape[1:3])]
        looks.clear()
