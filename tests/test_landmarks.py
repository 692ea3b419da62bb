"""Face landmarks (lipread.video.landmarks) and the aligned mouth crop (AlignedMouthLocator), on GRID's original
clips of seven speakers against hand-marked mouth centres."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.config import get_preset
from lipread.errors import VideoError
from lipread.video.face import detect
from lipread.video.landmarks import MEAN_FACE, MODEL_PATH, MOUTH_POINTS, landmarks, similarity, to_template
from lipread.video.mouth import ALIGNED_MOUTH_CENTRE, AlignedMouthLocator, Warp
from lipread.video.preprocess import default_locator, mouth_crops
from lipread.video.reader import read_frames

CENTRES: dict[str, dict[str, list[int]]] = json.loads(
    (Path(__file__).parent / "fixtures" / "mouth_centres.json").read_text()
)["clips"]
"""Hand-marked mouth centres: clip -> frame index -> [column, row] in the 360x288 frame."""

_FRAMES: dict[str, np.ndarray] = {}


def frames_of(shared_data: Path, clip: str) -> np.ndarray:
    if clip not in _FRAMES:
        path = shared_data / "grid" / "mpg" / f"{clip}.mpg"
        if not path.is_file():
            pytest.skip(f"{path} not found")
        _FRAMES[clip] = read_frames(path)
    return _FRAMES[clip]


def rotate(frames: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    matrix = cv2.getRotationMatrix2D(centre, degrees, 1.0)
    return np.stack([cv2.warpAffine(f, matrix, f.shape[1::-1], borderMode=cv2.BORDER_REPLICATE) for f in frames])


def test_the_model_ships_small() -> None:
    assert MODEL_PATH.is_file() and MODEL_PATH.stat().st_size < 3_000_000
    assert MODEL_PATH.with_suffix(".LICENSE").is_file()


@pytest.mark.parametrize("clip", sorted(CENTRES))
def test_mouth_landmarks_lie_on_the_hand_marked_mouth(clip: str, shared_data: Path) -> None:
    """The lips' landmarks centre within 6 pixels of where a person marked the mouth (faces ~130 px wide)."""
    frames = frames_of(shared_data, clip)
    for t, (x, y) in CENTRES[clip].items():
        frame = frames[int(t)]
        points, presence = landmarks(frame, detect(frame)[0])
        assert points.shape == (468, 2) and presence > 0.99
        mouth = points[list(MOUTH_POINTS)].mean(axis=0)
        assert np.hypot(mouth[0] - x, mouth[1] - y) <= 6, (t, mouth, (x, y))


def test_a_box_without_a_face_scores_low(shared_data: Path) -> None:
    frame = frames_of(shared_data, "bbaf2n")[0]
    face = detect(frame)[0]
    elsewhere = type(face)(40.0, 40.0, face.width / 2, face.height / 2, 40.0, 50.0, face.score)  # the backdrop
    assert landmarks(frame, elsewhere)[1] < 0.5


@settings(max_examples=60, deadline=None)
@given(
    angle=st.floats(-np.pi, np.pi),
    scale=st.floats(0.01, 100.0),
    shift=st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
    seed=st.integers(0, 2**32 - 1),
)
def test_similarity_recovers_a_known_transform(
    angle: float, scale: float, shift: tuple[float, float], seed: int
) -> None:
    points = np.random.default_rng(seed).normal(size=(10, 2))
    a, b = scale * np.cos(angle), scale * np.sin(angle)
    truth = np.array([[a, -b, shift[0]], [b, a, shift[1]]])
    moved = points @ truth[:, :2].T + truth[:, 2]
    np.testing.assert_allclose(similarity(points, moved), truth, rtol=1e-6, atol=1e-6 * max(1.0, scale))


def test_similarity_never_reflects_and_refuses_degenerate_input() -> None:
    points = np.random.default_rng(0).normal(size=(10, 2))
    mirrored = points * (-1, 1)
    m = similarity(points, mirrored)
    assert np.linalg.det(m[:, :2]) > 0  # the best rotation, not the mirror image
    with pytest.raises(ValueError, match="one place"):
        similarity(np.ones((5, 2)), points[:5])
    with pytest.raises(ValueError, match="same N"):
        similarity(points, points[:4])


def test_mean_face_is_symmetric_and_normalised() -> None:
    np.testing.assert_allclose(MEAN_FACE[[0, 3]], [[-0.5, 0.0], [0.5, 0.0]])
    np.testing.assert_allclose(MEAN_FACE[[0, 1]] * (-1, 1), MEAN_FACE[[3, 2]])
    assert np.all(MEAN_FACE[4:, 0] == 0)


def test_aligned_crop_is_centred_on_the_mouth(shared_data: Path) -> None:
    """Mapped back into the frame, the centre of the aligned crop lies on the hand-marked mouth."""
    for clip in sorted(CENTRES):
        frames = frames_of(shared_data, clip)
        warp = AlignedMouthLocator().locate(frames, source=clip)
        assert isinstance(warp, Warp) and warp.height == max(1, round(warp.width * 46 / 140))
        back = np.linalg.inv(np.vstack([warp.matrix, [0, 0, 1]]))
        x, y, _ = back @ (warp.width / 2, warp.height / 2, 1)
        marked = np.median(np.array(list(CENTRES[clip].values())), axis=0)
        assert np.hypot(x - marked[0], y - marked[1]) <= 8, clip


def test_aligned_crop_undoes_scale_and_roll(shared_data: Path) -> None:
    """The same clip at twice the size, or rolled by 12 degrees, gives nearly the same aligned crop; the
    upright face box of the default crop does not undo the roll."""
    config = get_preset("lipnet")
    aligned = config.with_(crop="aligned")
    frames = frames_of(shared_data, "lbax4n")[::5]
    big = np.stack([cv2.resize(f, (720, 576), interpolation=cv2.INTER_CUBIC) for f in frames])
    rolled = rotate(frames, 12.0, (180.0, 200.0))
    base = mouth_crops(frames, aligned).astype(float)
    for other in (big, rolled):
        assert np.abs(mouth_crops(other, aligned) - base).mean() < 10
    boxes = mouth_crops(frames, config).astype(float)
    assert np.abs(mouth_crops(rolled, config) - boxes).mean() > 2 * np.abs(mouth_crops(rolled, aligned) - base).mean()


def test_aligned_config_uses_the_aligned_locator_and_the_models_size(shared_data: Path) -> None:
    config = get_preset("lipnet").with_(crop="aligned")
    assert isinstance(default_locator(config), AlignedMouthLocator)
    crops = mouth_crops(frames_of(shared_data, "bbaf2n")[:20], config)
    assert crops.shape == (20, 50, 100, 3) and crops.dtype == np.uint8
    assert ALIGNED_MOUTH_CENTRE[0] == 0.0


def test_no_face_is_a_video_error() -> None:
    grey = np.full((10, 120, 160, 3), 128, np.uint8)
    with pytest.raises(VideoError, match=r"blank\.mp4: no face found"):
        AlignedMouthLocator().locate(grey, source="blank.mp4")


def test_the_mean_face_maps_onto_itself() -> None:
    points = np.zeros((468, 2))
    from lipread.video.landmarks import STABLE_POINTS

    points[list(STABLE_POINTS)] = MEAN_FACE * 70 + (180, 150)
    m = to_template(points)
    np.testing.assert_allclose(m, [[1 / 70, 0, -180 / 70], [0, 1 / 70, -150 / 70]], atol=1e-9)


def test_train_crop_option_makes_an_aligned_model() -> None:
    import argparse

    from lipread.cli import build_parser
    from lipread.cli import train as train_command
    from lipread.errors import DataError

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices["train"]
    options = train_command.options_from_args(parser.parse_args(["d", "-o", "o", "--crop", "aligned"]))
    assert options.model_config == get_preset("lipnet").with_(crop="aligned")
    assert train_command.options_from_args(parser.parse_args(["d", "-o", "o"])).model_config.crop == "lipnet"
    with pytest.raises(DataError, match="only for RGB models"):
        train_command.options_from_args(
            parser.parse_args(["d", "-o", "o", "--preset", "lipnet-notebook", "--crop", "aligned"])
        )
