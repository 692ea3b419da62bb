"""Bad video files say their true reason, large frames cost little memory, and doubtful readings carry warnings.

- An unreadable file, a symbolic link loop, a broken link, a pipe, a truncated ``.mpg`` and a clip too small to
  show a face each end in one ``VideoError`` (API) or one ``lipread: error:`` line (CLI) that names the file and
  what is really wrong, never "cannot decode" or "not found" for all of them.
- Frames larger than the mouth locator needs are shrunk as they are decoded, and a clip is gathered into one
  array, so memory follows the model's needs and not the video's resolution (the 10 s 4K target itself is
  measured by ``benchmarks/large_frames.py``).
- A transcript carries warnings for what lipread noticed (frames without a face, colour missing, frame rate
  resampled, clip cut short); the JSON output holds them and the CLI prints them.

The bad files are made by the tests (nothing binary is committed).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lipread
from lipread import cli
from lipread.api import Transcriber
from lipread.errors import VideoError
from lipread.report import PREFIX, WARNING_PREFIX
from lipread.video import access, frame_folder, mpeg
from lipread.video.fitting import MIN_FACE_FRAME, WORK_PIXELS, FrameBuffer, fit_frames
from lipread.video.mouth import GRID_BOX, Box, FaceMouthLocator, FixedCrop
from lipread.video.notices import ClipWatch, trained_on_grey
from lipread.video.reader import frame_rate, iter_frames, probe, read_frames, shrink

onnx = pytest.importorskip("onnxruntime", reason="the transcription tests run the tiny ONNX model")

from tiny_onnx import write_tiny_model  # noqa: E402  (after the skip: it needs onnx)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def runner(tiny: Path) -> Transcriber:
    return Transcriber(tiny, decoder="greedy", threads=1)


@pytest.fixture(scope="module")
def grid_frames(grid_clip: Path) -> np.ndarray:
    return read_frames(grid_clip)


def write_video(path: Path, frames: Any, fps: float = 25.0) -> Path:
    """Write ``uint8 (H, W, 3)`` RGB frames as MPEG-4 with OpenCV."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _one_error(err: str, path: Path, reason: str) -> None:
    """``err`` is one ``lipread: error: <path>: ...<reason>...`` line."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{PREFIX}{path}: "), lines[0]
    assert reason in lines[0], lines[0]


# --------------------------------------------------------------------------------------------------
# The true reason
# --------------------------------------------------------------------------------------------------


def _denied(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make ``open(path)`` fail as for a file without read permission (the tests may run as root, whom
    permissions do not stop)."""
    real = open

    def fake_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if Path(os.fsdecode(file)) == path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(file, *args, **kwargs)

    monkeypatch.setattr(access, "open", fake_open, raising=False)


def test_an_unreadable_file_says_permission_denied(
    tmp_path: Path, grid_clip: Path, tiny: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(grid_clip.read_bytes())
    _denied(monkeypatch, path)
    message = f"{path}: cannot read the video file: permission denied"
    with pytest.raises(VideoError) as e:
        lipread.transcribe(path, model=tiny)
    assert str(e.value) == message
    code, out, err = _cli(capsys, "transcribe", path, "--model", tiny)
    assert (code, out) == (1, "")
    _one_error(err, path, "cannot read the video file: permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads files without permission")
def test_a_file_without_read_permission_says_so(tmp_path: Path, grid_clip: Path, tiny: Path) -> None:
    path = tmp_path / "locked.mp4"
    path.write_bytes(grid_clip.read_bytes())
    path.chmod(0)
    with pytest.raises(VideoError, match="cannot read the video file: permission denied"):
        lipread.transcribe(path, model=tiny)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links here")
def test_links_that_lead_nowhere_say_what_they_are(
    tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop, other = tmp_path / "loop.mp4", tmp_path / "other.mp4"
    os.symlink(other, loop)
    os.symlink(loop, other)
    broken = tmp_path / "broken.mp4"
    os.symlink(tmp_path / "gone.mp4", broken)
    cases = [
        (loop, "is a symbolic link loop"),
        (broken, f"is a broken symbolic link (its target {tmp_path / 'gone.mp4'} does not exist)"),
    ]
    for path, reason in cases:
        with pytest.raises(VideoError, match="^" + str(path).replace(".", r"\.")) as e:
            lipread.transcribe(path, model=tiny)
        assert reason in str(e.value) and "not found" not in str(e.value)
        code, _, err = _cli(capsys, "transcribe", path, "--model", tiny)
        assert code == 1
        _one_error(err, path, reason)
    with pytest.raises(VideoError, match="is a symbolic link loop"):
        read_frames(loop)


def test_missing_paths_say_not_found_and_why(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"nothing\.mp4: video file not found$"):
        read_frames(tmp_path / "nothing.mp4")
    a_file = tmp_path / "a.txt"
    a_file.write_text("x")
    with pytest.raises(VideoError, match=r"not found \(a part of the path is a file, not a folder\)"):
        read_frames(a_file / "clip.mp4")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path, tiny: Path) -> None:
    pipe = tmp_path / "pipe.mp4"
    os.mkfifo(pipe)
    with pytest.raises(VideoError, match=r"pipe\.mp4: is not a regular file \(a device, pipe or socket\)"):
        lipread.transcribe(pipe, model=tiny)


def test_a_frame_folder_that_cannot_be_listed_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    cv2.imwrite(str(folder / "1.png"), np.zeros((64, 64, 3), np.uint8))

    def denied(path: Any) -> Any:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    monkeypatch.setattr(frame_folder, "frame_files", lambda f: [])  # what an unlistable folder gives
    monkeypatch.setattr(frame_folder.os, "listdir", denied)
    with pytest.raises(VideoError, match=r"frames: cannot read the frame folder: permission denied"):
        read_frames(folder)


def test_a_folder_that_cannot_be_searched_is_named_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny: Path
) -> None:
    folder = tmp_path / "videos"
    folder.mkdir()
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(os.fsdecode(path)) == folder:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, _, err = _cli(capsys, "transcribe", folder, "--model", tiny)
    assert code == 1
    _one_error(err, folder, "cannot list the folder: Permission denied")
    assert "Permission denied" in err and "no videos found" not in err


def test_a_sub_folder_that_cannot_be_searched_is_named_and_the_rest_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tiny: Path, grid_clip: Path
) -> None:
    folder = tmp_path / "videos"
    (folder / "locked").mkdir(parents=True)
    shutil.copy(grid_clip, folder / "bbaf2n.mp4")
    real = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(os.fsdecode(path)) == folder / "locked":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, err = _cli(capsys, "transcribe", folder, "--model", tiny)
    assert code == 1 and len(out.splitlines()) == 1  # the readable clip is still read
    _one_error(err, folder, "cannot list its folder locked: Permission denied")


@pytest.mark.parametrize("size", [(8, 8), (16, 12), (MIN_FACE_FRAME - 2, 200)])
def test_a_clip_too_small_for_a_face_says_its_size(
    tmp_path: Path, tiny: Path, capsys: pytest.CaptureFixture[str], size: tuple[int, int]
) -> None:
    height, width = size
    frames = np.random.default_rng(0).integers(0, 256, (12, height, width, 3), dtype=np.uint8)
    path = write_video(tmp_path / "tiny.mp4", frames)
    reason = f"frames of {width}x{height} pixels are too small to find a face in"
    for source in (path, frames):
        with pytest.raises(VideoError, match=reason) as e:
            lipread.transcribe(source, model=tiny)
        assert "1 pixels" not in str(e.value)
    code, _, err = _cli(capsys, "transcribe", path, "--model", tiny)
    assert code == 1
    _one_error(err, path, reason)


def test_a_fixed_box_reads_frames_of_any_size_that_hold_it(tiny: Path) -> None:
    # The size check is the face locator's: a fixed box needs only frames that hold it.
    frames = np.random.default_rng(0).integers(0, 256, (12, 20, 30, 3), dtype=np.uint8)
    runner = Transcriber(tiny, locator=FixedCrop(Box(2, 18, 3, 27)), threads=1)
    assert isinstance(runner.transcribe(frames), lipread.Transcript)
    with pytest.raises(VideoError, match=r"frames of 30x20 pixels are smaller than the fixed mouth box"):
        Transcriber(tiny, locator=FixedCrop(), threads=1).transcribe(frames)


def _cut(source: Path, folder: Path, fraction: float) -> Path:
    data = source.read_bytes()
    path = folder / f"cut-{fraction:g}.mpg"
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def test_a_truncated_mpg_says_so_with_its_stated_rate(
    tmp_path: Path, mpg_clip: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _cut(mpg_clip, tmp_path, 0.02)
    assert frame_rate(path) == 25.0  # FFmpeg alone guesses 50 fps from the one frame left
    assert probe(path).fps == 25.0
    with pytest.raises(VideoError) as e:
        lipread.transcribe(path, model=tiny)
    message = str(e.value)
    assert message.startswith(f"{path}: too short to read: 1 frame at 25 fps (0.04 s)")
    assert "the file is truncated (its last packet, at byte" in message
    code, _, err = _cli(capsys, "transcribe", path, "--model", tiny)
    assert code == 1
    _one_error(err, path, "the file is truncated")


# --------------------------------------------------------------------------------------------------
# MPEG program streams: parsed from their bytes
# --------------------------------------------------------------------------------------------------


def _program_stream(packets: list[int], rate_code: int = 3) -> bytes:
    """An MPEG-1 program stream: a pack header, a video packet holding a sequence header, then packets of the
    given payload sizes (padding streams)."""
    pack = b"\x00\x00\x01\xba" + bytes([0x21, 0, 1, 0, 1, 0x80, 0x14, 0x25])
    sequence = b"\x00\x00\x01\xb3" + bytes([0x16, 0x81, 0x20, 0x10 | rate_code, 0xFF, 0xFF, 0xE0, 0x70])
    video = b"\x00\x00\x01\xe0" + struct.pack(">H", len(sequence)) + sequence
    rest = b"".join(b"\x00\x00\x01\xbe" + struct.pack(">H", n) + b"\xff" * n for n in packets)
    return pack + video + rest


@given(st.lists(st.integers(0, 3000), min_size=1, max_size=6), st.data())
@settings(max_examples=60, deadline=None)
def test_a_program_stream_cut_inside_a_packet_is_found(tmp_path_factory: Any, sizes: list[int], data: Any) -> None:
    folder = tmp_path_factory.mktemp("mpeg")
    whole = _program_stream(sizes)
    path = folder / "whole.mpg"
    path.write_bytes(whole)
    assert mpeg.truncation(path) is None
    assert mpeg.sequence_rate(path) == 25.0
    cut = data.draw(st.integers(1, len(whole) - 1))
    path.write_bytes(whole[:cut])
    boundaries = {12 + 6 + 12}  # after the pack header and the video packet, and after each padding packet
    for n in sizes:
        boundaries.add(max(boundaries) + 6 + n)
    found = mpeg.truncation(path)
    if cut in boundaries or cut <= 12:
        assert found is None or "truncated" in found
    else:
        assert found is not None and found.startswith("the file is truncated"), (cut, found)


@pytest.mark.parametrize("extra", [1, 2])
def test_a_program_stream_cut_inside_a_start_code_is_found(tmp_path: Path, extra: int) -> None:
    whole = _program_stream([100, 200])
    path = tmp_path / "cut.mpg"
    path.write_bytes(whole[: 12 + 6 + 12 + 6 + 100 + extra])  # one or two bytes of the last packet's start code
    assert (mpeg.truncation(path) or "").startswith("the file is truncated")


@given(st.binary(max_size=3000))
@settings(max_examples=200, deadline=None)
def test_random_bytes_never_break_the_mpeg_readers(tmp_path_factory: Any, data: bytes) -> None:
    path = tmp_path_factory.mktemp("mpeg") / "random.mpg"
    path.write_bytes(data)
    found = mpeg.truncation(path)
    assert found is None or found.startswith("the file is truncated")
    assert mpeg.sequence_rate(path) in (None, *mpeg._RATES.values())
    path.write_bytes(b"\x00\x00\x01\xba" + data)
    found = mpeg.truncation(path)
    assert found is None or found.startswith("the file is truncated")


@pytest.mark.parametrize(("code", "rate"), [(1, 24000 / 1001), (3, 25.0), (5, 30.0), (8, 60.0), (0, None), (15, None)])
def test_the_sequence_header_states_the_rate(tmp_path: Path, code: int, rate: float | None) -> None:
    path = tmp_path / "s.mpg"
    path.write_bytes(_program_stream([10], code))
    assert mpeg.sequence_rate(path) == rate


# --------------------------------------------------------------------------------------------------
# Memory on large frames
# --------------------------------------------------------------------------------------------------


def test_shrink_keeps_the_aspect_ratio_within_the_pixels() -> None:
    frame = np.zeros((2160, 3840, 3), np.uint8)
    small = shrink(frame, WORK_PIXELS)
    assert small.shape == (540, 960, 3)
    grey = shrink(np.zeros((2160, 3840, 1), np.uint8), WORK_PIXELS)
    assert grey.shape == (540, 960, 1)
    assert shrink(frame[:288, :360], WORK_PIXELS) is not None
    same = frame[:288, :360]
    assert shrink(same, WORK_PIXELS) is same


def test_fixed_crop_frames_are_cut_to_the_box_as_they_come() -> None:
    frames = np.random.default_rng(1).integers(0, 256, (4, 288, 360, 3), dtype=np.uint8)
    cut, inside = fit_frames(iter(frames), FixedCrop(), "<frames>")
    out = list(cut)
    b = GRID_BOX
    assert all(f.flags.c_contiguous and f.base is None for f in out)  # copies: the full frames can go
    assert np.array_equal(np.stack(out), frames[:, b.top : b.bottom, b.left : b.right])
    assert inside == FixedCrop(Box(0, b.height, 0, b.width))
    shrunk, same = fit_frames(iter(np.zeros((2, 2160, 3840, 3), np.uint8)), FaceMouthLocator(), "<frames>")
    assert [f.shape for f in shrunk] == [(540, 960, 3)] * 2 and same == FaceMouthLocator()


def test_a_frame_buffer_holds_the_clip_once() -> None:
    buffer = FrameBuffer(3, "clip.mp4")
    frames = [np.full((4, 5, 3), i, np.uint8) for i in range(3)]
    for f in frames[:2]:
        buffer.append(f)
    assert len(buffer) == 2 and np.array_equal(buffer.frames(), np.stack(frames[:2]))
    with pytest.raises(VideoError, match=r"clip\.mp4: frames change size within the video"):
        buffer.append(np.zeros((4, 6, 3), np.uint8))
    buffer.append(frames[2])
    with pytest.raises(IndexError):
        buffer.append(frames[0])
    drained = list(buffer.drain())
    assert len(buffer) == 0 and [int(f[0, 0, 0]) for f in drained] == [0, 1, 2]


def _resident_peak_growth(call: Any) -> int:
    """Bytes by which ``call()`` raises this process's peak resident memory (Linux: the peak is reset first)."""
    status = Path("/proc/self/status")

    def read(key: str) -> int:
        line = next(x for x in status.read_text().splitlines() if x.startswith(key))
        return int(line.split()[1]) * 1024

    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
    except OSError:
        pytest.skip("the peak resident memory cannot be reset here (Linux /proc/self/clear_refs)")
    before = read("VmRSS:")
    call()
    return read("VmHWM:") - before


def test_a_large_clip_is_held_at_the_working_size(tmp_path: Path, runner: Transcriber, grid_frames: np.ndarray) -> None:
    # GRID frames scaled up to 2560x1440: 332 MB of RGB frames at full size, 47 MB at the working size.
    frames = np.zeros((30, 1440, 2560, 3), np.uint8)
    for i, f in enumerate(grid_frames[:30]):
        frames[i, :, 380:2180] = cv2.resize(f, (1800, 1440), interpolation=cv2.INTER_LINEAR)
    path = write_video(tmp_path / "large.mp4", frames)
    full = frames.nbytes
    del frames
    runner.prepare(grid_frames[:12])  # the face detector and the decoder's libraries are loaded once
    prepared: list[Any] = []
    growth = _resident_peak_growth(lambda: prepared.append(runner.prepare(path)))
    assert prepared[0].frames.shape[0] == 30
    assert growth < full / 2, f"reading {full / 1e6:.0f} MB of frames raised the peak by {growth / 1e6:.0f} MB"


def test_small_clips_are_read_exactly_as_before(runner: Transcriber, grid_clip: Path) -> None:
    from lipread.video.preprocess import preprocess

    prepared = runner.prepare(grid_clip)
    assert np.array_equal(prepared.frames, preprocess(read_frames(grid_clip), runner.config))  # type: ignore[arg-type]
    assert prepared.notes == ()


# --------------------------------------------------------------------------------------------------
# Warnings
# --------------------------------------------------------------------------------------------------


def test_a_clean_clip_has_no_warnings(runner: Transcriber, grid_clip: Path) -> None:
    t = runner.transcribe(grid_clip)
    assert isinstance(t, lipread.Transcript) and t.warnings == () and t.to_dict()["warnings"] == []


def test_a_face_that_disappears_is_a_warning(runner: Transcriber, grid_frames: np.ndarray) -> None:
    frames = grid_frames.copy()
    frames[30:55] = 128  # the face is gone for a second
    t = runner.transcribe(frames)
    assert isinstance(t, lipread.Transcript)
    [warning] = t.warnings
    assert warning.startswith(
        "frames without a face: no face in 2 of the 5 frames examined (between 0.64 s and 2.40 s)"
    )


def test_a_long_clip_warns_of_the_seconds_without_a_face(runner: Transcriber, grid_frames: np.ndarray) -> None:
    frames = np.concatenate([grid_frames] * 4)  # 12 s: read in windows
    frames[100:160] = 128
    t = runner.transcribe(frames)
    assert isinstance(t, lipread.Transcript)
    [warning] = t.warnings
    assert warning.startswith(
        "frames without a face: no face in 4 of the 20 frames examined (between 3.64 s and 6.60 s)"
    )


def test_grey_video_for_a_colour_model_is_a_warning(runner: Transcriber, grid_frames: np.ndarray) -> None:
    grey = np.repeat(cv2.cvtColor(grid_frames.reshape(-1, 360, 3), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
    t = runner.transcribe(grey.reshape(grid_frames.shape))
    assert isinstance(t, lipread.Transcript)
    assert [w.split(":")[0] for w in t.warnings] == ["colour missing"]


def test_grey_video_for_a_model_trained_on_grey_clips_is_no_warning(tiny: Path, grid_frames: np.ndarray) -> None:
    grey = np.repeat(cv2.cvtColor(grid_frames.reshape(-1, 360, 3), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=-1)
    runner = Transcriber(tiny, decoder="greedy", threads=1)
    assert not trained_on_grey(runner.model)
    runner.model.trained_on = {**runner.model.trained_on, "greyscale": 0.2}  # as `lipread train --greyscale 0.2`
    assert trained_on_grey(runner.model)
    t = runner.transcribe(grey.reshape(grid_frames.shape))
    assert isinstance(t, lipread.Transcript)
    assert t.warnings == ()


def test_a_resampled_frame_rate_is_a_warning(runner: Transcriber, grid_frames: np.ndarray) -> None:
    t = runner.transcribe(grid_frames, fps=30.0)
    assert isinstance(t, lipread.Transcript)
    assert t.warnings == (
        "frame rate resampled: the clip's 30 fps read as the model's 25 fps (some frames dropped; word times "
        "stay in the clip's seconds)",
    )


def test_clip_watch_looks_only_for_what_the_model_and_locator_need(grid_frames: np.ndarray) -> None:
    from lipread.config import LIPNET, LIPNET_NOTEBOOK

    blank = np.full_like(grid_frames, 128)  # no face, no colour

    def notes(frames: np.ndarray, config: Any, locator: Any) -> list[str]:
        watch = ClipWatch(config, locator, 25.0, 25.0)
        assert sum(1 for _ in watch.watch(iter(frames))) == len(frames)
        return [n.split(":")[0] for n in watch.notes()]

    assert notes(blank, LIPNET, FixedCrop()) == ["colour missing"]  # a fixed box needs no face
    assert notes(blank, LIPNET_NOTEBOOK, FaceMouthLocator()) == []  # no face at all is the locator's error
    half = grid_frames.copy()
    half[40:] = 128
    assert notes(half, LIPNET_NOTEBOOK, FaceMouthLocator()) == ["frames without a face"]
    assert notes(grid_frames, LIPNET, FaceMouthLocator()) == []


class _Capture:
    """A stand-in for ``cv2.VideoCapture`` that states a frame count and a frame rate."""

    def __init__(self, *args: Any, frames: float = 75.0, fps: float = 0.0) -> None:
        self.values = {cv2.CAP_PROP_FRAME_COUNT: frames, cv2.CAP_PROP_FPS: fps}

    def get(self, prop: int) -> float:
        return self.values.get(prop, 0.0)

    def release(self) -> None:
        pass


def test_a_few_frames_missing_is_a_warning_and_many_an_error() -> None:
    from lipread.video.reader import _check_complete

    notes: list[str] = []
    _check_complete(Path("c.mp4"), _Capture(frames=75), 75, notes)
    _check_complete(Path("c.mp4"), _Capture(frames=75), 74, notes)  # containers round their count
    assert notes == []
    _check_complete(Path("c.mp4"), _Capture(frames=75), 70, notes)
    assert notes == ["clip cut short: 70 of the 75 frames the file declares could be decoded (the file is truncated "
                     "or damaged)"]  # fmt: skip
    with pytest.raises(VideoError, match=r"c\.mp4: only 60 of the 75 frames"):
        _check_complete(Path("c.mp4"), _Capture(frames=75), 60, notes)


def test_a_file_without_a_frame_rate_is_read_at_25_fps_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.mp4"
    path.write_bytes(b"x")
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a: _Capture(fps=float("nan")))
    notes: list[str] = []
    assert frame_rate(path, 25.0, notes) == 25.0
    assert notes == ["the file states no usable frame rate (nan fps); read as 25 fps"]


def test_the_frames_of_a_file_come_with_the_rate_frame_rate_gives_it(
    tmp_path: Path, grid_clip: Path, mpg_clip: Path
) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"{i + 1}.png"), np.full((40, 40, 3), 90, np.uint8))
    cut = _cut(mpg_clip, tmp_path, 0.02)  # FFmpeg alone guesses 50 fps; the sequence header says 25
    for path in (grid_clip, mpg_clip, cut, folder):
        rate: list[float] = []
        frames = iter_frames(path, rate=rate)
        next(frames)
        assert rate == ([] if path.is_dir() else [frame_rate(path)]), path
        frames.close()


def test_a_video_file_is_opened_once_to_transcribe_it(
    grid_clip: Path, runner: Transcriber, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[tuple[Any, ...]] = []
    capture = cv2.VideoCapture

    def counted(*args: Any) -> Any:
        opened.append(args)
        return capture(*args)

    monkeypatch.setattr(cv2, "VideoCapture", counted)
    runner.prepare(grid_clip)
    assert [args[0] for args in opened] == [str(grid_clip)]


def test_a_truncated_mpg_that_still_reads_warns_clip_cut_short(
    tmp_path: Path, mpg_clip: Path, tiny: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _cut(mpg_clip, tmp_path, 0.6)
    t = lipread.transcribe(path, model=tiny)
    assert isinstance(t, lipread.Transcript)
    [warning] = t.warnings
    assert warning.startswith("clip cut short: the file is truncated (its last packet, at byte")
    assert warning.endswith("47 frames could be decoded")
    code, out, err = _cli(capsys, "transcribe", path, "--model", tiny, "--format", "json")
    assert code == 0
    assert json.loads(out)["warnings"] == [warning]
    assert err.strip().splitlines() == [f"{WARNING_PREFIX}{path}: {warning}"]
    whole = lipread.transcribe(mpg_clip, model=tiny)
    assert isinstance(whole, lipread.Transcript) and whole.warnings == ()


def test_a_name_opencv_cannot_take_is_an_error_not_a_crash(grid_clip: Path, tmp_path: Path) -> None:
    """A file name that is not valid UTF-8 (Python holds its bytes as lone surrogates) crashed the process
    inside OpenCV; now it is refused by name, and the command goes on with the other files."""
    if sys.platform == "win32":
        pytest.skip("Windows file names are UTF-16")
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/w\xff.mp4"))
    shutil.copy(grid_clip, odd)
    message = "the name is not valid UTF-8, which OpenCV cannot open; rename it"
    with pytest.raises(VideoError, match=rf"^{re.escape(str(odd))}: {message}$"):
        read_frames(odd)
    with pytest.raises(VideoError, match=message):
        frame_rate(odd)
    done = subprocess.run([sys.executable, "-m", "lipread", "info", str(tmp_path)], capture_output=True)
    assert done.returncode == 1  # not -11, a crash
    assert done.stderr == b"lipread: error: " + bytes(odd) + f": {message}\n".encode()  # the name's own bytes


def test_a_name_of_any_bytes_is_printed_as_it_is(shared_data: Path, tmp_path: Path) -> None:
    """A frame folder whose name is not valid UTF-8 is read (OpenCV decodes its images from bytes), and its
    name is printed with its own bytes, even where stdout is strict UTF-8 (as in an en_US.UTF-8 locale)."""
    if sys.platform == "win32":
        pytest.skip("Windows file names are UTF-16")
    odd = Path(os.fsdecode(bytes(tmp_path) + b"/f\xff"))
    shutil.copytree(shared_data / "grid" / "faces" / "s4" / "bbie7p", odd)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    done = subprocess.run([sys.executable, "-m", "lipread", "info", str(odd)], capture_output=True, env=env)
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.startswith(bytes(odd) + b": 75 frames, 25 fps")
