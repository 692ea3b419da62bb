"""Frame folders (folders of numbered images) read as clips: by the reader, the CLI commands and the data sets."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from lipread.cli.app import main
from lipread.config import get_preset
from lipread.data.dataset import CropCache, find_clips
from lipread.data.grid import is_grid_sentence
from lipread.errors import VideoError
from lipread.video.discovery import find_videos
from lipread.video.mouth import Box, FixedCrop
from lipread.video.reader import frame_files, is_frame_folder, iter_frames, probe, read_frames

cv2 = pytest.importorskip("cv2")

needs_onnx = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None,
    reason="reads with the shipped model on the onnx backend (pip install lipread[onnx])",
)


def write_frames(folder: Path, frames: dict[str, np.ndarray]) -> Path:
    """Write ``{file name: uint8 (H, W, 3) RGB}`` as images into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rgb in frames.items():
        assert cv2.imwrite(str(folder / name), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return folder


def flat(value: int, h: int = 12, w: int = 16) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


@pytest.fixture(scope="module")
def faces(shared_data: Path) -> Path:
    """``grid/faces``: speakers 4 and 5 as frame folders, with alignments."""
    root = shared_data / "grid" / "faces"
    if not (root / "s4" / "bbie7p").is_dir():
        pytest.skip(f"frame folders not found in {root}")
    return root


def test_natural_order(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "clip", {"10.png": flat(100), "2.png": flat(20), "1.png": flat(10)})
    assert [p.name for p in frame_files(folder)] == ["1.png", "2.png", "10.png"]
    frames = read_frames(folder)
    assert frames.shape == (3, 12, 16, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [10, 20, 100]
    assert [int(f[0, 0, 0]) for f in iter_frames(folder)] == [10, 20, 100]
    assert read_frames(folder, start=1, max_frames=1)[:, 0, 0, 0].tolist() == [20]


def test_other_files_are_ignored_and_videos_make_a_video_folder(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "clip", {"frame_2.png": flat(2), "frame_10.png": flat(10)})
    (folder / "notes.txt").write_text("not a frame")
    (folder / "cover.png").write_bytes(b"")  # no number in its name: not a frame
    assert is_frame_folder(folder)
    assert read_frames(folder)[:, 0, 0, 0].tolist() == [2, 10]
    (folder / "clip.mp4").write_bytes(b"x")
    assert not is_frame_folder(folder)


def test_frames_of_different_sizes_take_the_first_size(tmp_path: Path) -> None:
    folder = write_frames(
        tmp_path / "clip", {"1.png": flat(50, 20, 30), "2.png": flat(60, 22, 31), "3.png": flat(70, 19, 28)}
    )
    frames = read_frames(folder)
    assert frames.shape == (3, 20, 30, 3)
    assert frames[:, 5, 5, 0].tolist() == [50, 60, 70]
    assert read_frames(folder, grey=True).shape == (3, 20, 30, 1)
    assert [f.shape for f in iter_frames(folder, start=1)] == [(20, 30, 3), (20, 30, 3)]
    info = probe(folder)
    assert (info.frames, info.width, info.height, info.fps) == (3, 30, 20, 25.0)
    assert probe(folder, fps=50).duration == pytest.approx(0.06)


def test_box_and_grey_options(tmp_path: Path) -> None:
    image = np.arange(20 * 30 * 3, dtype=np.uint32).reshape(20, 30, 3).astype(np.uint8)
    folder = write_frames(tmp_path / "clip", {"1.png": image, "2.png": image})
    box = Box(2, 10, 5, 25)
    np.testing.assert_array_equal(read_frames(folder, box=box)[0], image[2:10, 5:25])
    grey = read_frames(folder, box=box, grey=True)
    assert grey.shape == (2, 8, 20, 1)
    with pytest.raises(VideoError, match="smaller than the box"):
        read_frames(folder, box=Box(0, 40, 0, 10))


def test_empty_folder_is_a_clean_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images")
    for read in (read_frames, probe, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoError, match=f"{empty}: is a folder with no numbered images"):
            read(empty)


def test_unreadable_image_is_a_clean_error(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "clip", {"1.jpg": flat(10)})
    (folder / "2.jpg").write_bytes(b"this is not a jpeg")
    for read in (read_frames, probe, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoError, match=r"clip: cannot read frame 2\.jpg"):
            read(folder)


def _png_header(width: int, height: int) -> bytes:
    """A small PNG that declares ``width`` x ``height`` pixels (its data a few bytes)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b"")


def test_an_image_past_the_decoders_limits_is_a_clean_error(tmp_path: Path) -> None:
    """A header OpenCV refuses before decoding (60000 x 60000 pixels in 100 bytes) is a damaged frame too."""
    folder = write_frames(tmp_path / "clip", {"1.jpg": flat(10)})
    (folder / "2.png").write_bytes(_png_header(60000, 60000))
    for read in (read_frames, probe, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoError, match=r"clip: cannot read frame 2\.png \(empty, damaged"):
            read(folder)


def test_command_reports_a_bad_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = write_frames(tmp_path / "broken", {"1.jpg": flat(10)})
    (broken / "2.jpg").write_bytes(b"junk")
    assert main(["info", str(empty), str(broken)]) == 1
    err = capsys.readouterr().err
    assert f"lipread: error: {empty}: no videos" in err
    assert f"lipread: error: {broken}: cannot read frame 2.jpg" in err
    assert "Traceback" not in err


def test_find_videos(tmp_path: Path) -> None:
    a = write_frames(tmp_path / "set" / "a", {"1.png": flat(1)})
    b = write_frames(tmp_path / "set" / "deeper" / "b", {"1.png": flat(1)})
    video = tmp_path / "set" / "v.mp4"
    video.write_bytes(b"x")
    files, problems = find_videos([a])
    assert (files, problems) == ([a], [])
    files, problems = find_videos([tmp_path / "set"])
    assert files == sorted([a, b, video]) and problems == []
    missing = tmp_path / "nowhere.mp4"
    assert find_videos([missing, str(a)]) == ([missing, a], [])  # a path that is no folder stays itself
    (tmp_path / "empty").mkdir()
    files, problems = find_videos([tmp_path / "empty"])
    assert files == [] and [(p, r.split(" (")[0]) for p, r in problems] == [(tmp_path / "empty", "no videos found")]


def test_find_videos_follows_linked_folders_once(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    video = clips / "v.mp4"
    clips.mkdir()
    video.write_bytes(b"x")
    top = tmp_path / "top"
    top.mkdir()
    (top / "linked").symlink_to(clips, target_is_directory=True)
    (top / "again").symlink_to(clips, target_is_directory=True)
    (clips / "loop").symlink_to(top, target_is_directory=True)  # a cycle: top -> linked -> loop -> top
    files, problems = find_videos([top])
    assert problems == [] and len(files) == 1 and files[0].resolve() == video.resolve()


@needs_onnx
def test_transcribe_one_frame_folder(faces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(faces / "s4" / "bbie7p")]) == 0
    out = capsys.readouterr().out.strip()
    assert "\t" not in out and is_grid_sentence(out)


@needs_onnx
def test_transcribe_a_folder_of_frame_folders(faces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["transcribe", str(faces / "s4")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    names = sorted(p.name for p in (faces / "s4").iterdir() if p.is_dir())
    assert [Path(line.split("\t")[0]).name for line in lines] == names
    assert all(is_grid_sentence(line.split("\t")[1]) for line in lines)


@needs_onnx
def test_fps_sets_the_rate_of_frame_folders_only(
    faces: Path, grid_clip: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    clip = str(faces / "s4" / "bbie7p")
    assert main(["info", clip, str(grid_clip), "--fps", "50"]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert out[0] == f"{clip}: 75 frames, 50 fps, 143x158 pixels, 1.50 s"
    assert "25 fps" in out[1]
    # the video file keeps its rate, and the user is told so, once
    note = "lipread: warning: --fps 50 is the frame rate of frame folders; video files keep their own\n"
    assert captured.err == note
    ends = []
    for fps in ("25", "50"):
        assert main(["transcribe", clip, "--format", "json", "--fps", fps, "--decoder", "greedy"]) == 0
        captured = capsys.readouterr()
        ends.append(max(w["end"] for w in json.loads(captured.out)["words"]))
        assert "--fps" not in captured.err  # a frame folder only: nothing to say
    assert ends[1] <= 1.5 < ends[0]
    assert main(["transcribe", str(grid_clip), "--fps", "50", "--decoder", "greedy"]) == 0
    assert capsys.readouterr().err.count(note) == 1


@needs_onnx
def test_eval_on_one_speakers_folder_points_to_its_alignments(faces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(faces / "s4"), "--split", "all", "--max-clips", "1", "--decoder", "greedy"]) == 0
    out = capsys.readouterr().out
    assert (
        "word boundaries: no clip with an alignment and a matching word count "
        f"(the alignments in {faces / 'alignments' / 's4'} are read when the folder above, {faces}, is given)"
    ) in out
    # given the folder above, the alignments are read (the grammar decoder's six words match the sentence's six)
    assert main(["eval", str(faces), "--split", "all", "--max-clips", "1", "--decoder", "grammar"]) == 0
    assert "word boundaries: median error" in capsys.readouterr().out


@needs_onnx
def test_eval_on_frame_folders(faces: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(faces), "--split", "all", "--max-clips", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 2 and result["failed"] == 0 and result["timed_clips"] >= 1


def test_find_clips_in_grid_frame_folders(faces: Path) -> None:
    clips = find_clips(faces)
    assert len(clips) == 14 and {c.speaker for c in clips} == {4, 5}
    first = clips[0]
    assert first.key == "s4_bbie7p" and first.video == faces / "s4" / "bbie7p"
    assert first.alignment == faces / "alignments" / "s4" / "bbie7p.align"
    assert first.text.endswith(" seven please") and is_grid_sentence(first.text)  # the text of its alignment
    assert [c.key for c in find_clips(faces, speakers=[5])][:1] == ["s5_bgwh4n"]


def test_crop_cache_keys_frame_folders(faces: Path, tmp_path: Path) -> None:
    clip = find_clips(faces)[0]
    cache = CropCache(tmp_path, get_preset("lipnet-notebook"), FixedCrop(Box(100, 146, 0, 140), "fixed"))
    assert re.fullmatch(r"s4_bbie7p-[0-9a-f]{8}-frames\.npy", cache.path(clip).name)
    crops = cache.get(clip)
    assert crops.shape == (75, 46, 140, 1) and cache.path(clip).is_file()


def test_preview_of_a_frame_folder(faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mouth.gif"
    assert main(["preview", str(faces / "s4" / "bbie7p"), "-o", str(out), "--scale", "1"]) == 0
    assert out.read_bytes()[:6] == b"GIF89a" and "75 frames" in capsys.readouterr().out


def test_training_indexes_grid_frame_folders(faces: Path, tmp_path: Path) -> None:
    from lipread.data.training import TrainOptions, training_clips

    train, val = training_clips(TrainOptions(data=faces, output=tmp_path / "run", val_fraction=0.25))
    assert len(train) + len(val) == 14 and len(val) == 4
    assert all(c.video.is_dir() and c.alignment is not None for c in train + val)


def test_preview_shows_the_frames_the_model_reads(
    faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A source of another rate is resampled to the model's 25 fps, as transcribe does: 75 images at 50 fps
    (1.5 s) are the 37 frames the model reads, played at 25 fps."""
    from gif_reader import read_gif

    out = tmp_path / "mouth.gif"
    assert main(["preview", str(faces / "s4" / "bbie7p"), "-o", str(out), "--fps", "50"]) == 0
    assert capsys.readouterr().out == f"{out}: 37 frames of 200x100 pixels (lipnet preset, 25 fps, from 50 fps)\n"
    assert read_gif(out.read_bytes()).delays == [4] * 37


def test_a_gap_in_the_numbering_is_said(faces: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An image missing from a frame folder (31.jpg) shifts every later frame by one: the clip is read, and
    the warning says so, as a clip cut short is."""
    from lipread.video.frame_folder import missing_numbers

    folder = tmp_path / "clip"
    shutil.copytree(faces / "s4" / "bbie7p", folder)
    (folder / "31.jpg").unlink()
    assert missing_numbers(frame_files(folder)) == [31]
    assert missing_numbers(frame_files(faces / "s4" / "bbie7p")) == []
    notes: list[str] = []
    assert sum(1 for _ in iter_frames(folder, notes=notes)) == 74
    assert notes == [
        "the frame folder's numbering skips 1 number (31): a frame lost at each, and the frames after it read early"
    ]


def test_a_number_given_twice_is_said(tmp_path: Path) -> None:
    """``1.jpg`` beside ``01.jpg``: both are read, one after the other, and the note says why the clip is long."""
    from lipread.video.frame_folder import missing_numbers, repeated_numbers

    folder = write_frames(tmp_path / "clip", {f"{n}.jpg": flat(10 * n) for n in range(1, 6)})
    shutil.copy(folder / "1.jpg", folder / "01.jpg")
    shutil.copy(folder / "3.jpg", folder / "frame_003.jpg")
    files = frame_files(folder)
    assert repeated_numbers(files) == [1, 3] and missing_numbers(files) == []
    notes: list[str] = []
    assert sum(1 for _ in iter_frames(folder, notes=notes)) == 7
    assert notes == [
        "the frame folder's images give 2 numbers more than once (1, 3; 01.jpg and 1.jpg are both frame 1): each "
        "is read as a frame of its own, and the frames after them read late"
    ]
    (folder / "01.jpg").unlink()  # the example is the first number given twice, by its own files' names
    notes.clear()
    assert sum(1 for _ in iter_frames(folder, notes=notes)) == 6
    assert notes[0].startswith("the frame folder's images give 1 number more than once (3; 3.jpg and frame_003.jpg ")
