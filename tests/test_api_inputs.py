"""What an app may hand the Python API: a framework's tensor, a list of frames, an unset model, a word-list
file, a subtitle format in capitals, a frame rate a hair off 25. Each is read as meant or refused with a
lipread error that names the argument, never a TypeError or AttributeError from inside, and never a message
as long as the input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lipread.errors import ArgumentError, DecodingError, VideoError
from lipread.video.mouth import AlignedMouthLocator, Box, FaceMouthLocator, FixedCrop
from lipread.video.reader import probe, read_frames

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model

import lipread
from lipread import Transcriber
from lipread.models import DEFAULT_MODEL
from lipread.transcription.subtitles import write_subtitles


class Tensorish:
    """An array of another framework (a CPU torch tensor, say): it has ``__array__``, a shape and ``ndim``."""

    def __init__(self, array: np.ndarray) -> None:
        self._array = array
        self.shape, self.ndim = array.shape, array.ndim

    def __array__(self, dtype: object = None, copy: object = None) -> np.ndarray:
        return self._array


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def frames(grid_clip: Path) -> np.ndarray:
    return read_frames(grid_clip)


def test_a_frameworks_tensor_is_read_as_its_array(tiny: Path, frames: np.ndarray) -> None:
    runner = Transcriber(tiny, decoder="greedy")
    alone = runner.transcribe(frames)
    got = runner.transcribe(Tensorish(frames))
    assert isinstance(got, lipread.Transcript) and got.text == alone.text
    two = runner.transcribe([Tensorish(frames), Tensorish(frames)])
    assert [t.text for t in two] == [alone.text, alone.text]


def test_a_list_of_frames_says_how_to_give_them(tiny: Path, frames: np.ndarray) -> None:
    runner = Transcriber(tiny, decoder="greedy")
    with pytest.raises(VideoError, match=r"got uint8 \(288, 360, 3\); a list is read as a list of clips: np.stack"):
        runner.transcribe(list(frames[:10]))
    with pytest.raises(VideoError) as nested:
        runner.transcribe(frames[:4].tolist())  # frames as nested lists of numbers
    assert str(nested.value) == (
        "a list of 288 items: expected a video path or a uint8 (T, H, W, 3) frames array; "
        "give a clip's frames as one NumPy array"
    )
    with pytest.raises(VideoError, match=r"^a memoryview of shape \(4, 288, 360, 3\): expected"):
        runner.transcribe(memoryview(frames[:4]))


def test_no_frames_is_said_as_such(tiny: Path, frames: np.ndarray) -> None:
    with pytest.raises(VideoError, match=r"^<frames>: no frames \(an array of shape \(0, 288, 360, 3\)\)$"):
        Transcriber(tiny).transcribe(frames[:0])
    with pytest.raises(VideoError, match=r"got uint8 \(\)$"):  # a 0-d array: no shape to speak of
        Transcriber(tiny).transcribe(np.array(3, np.uint8))
    with pytest.raises(VideoError, match=r"got uint8 \(75, 288, 360\)$"):  # grey frames: no hint of a list
        Transcriber(tiny).transcribe(frames[..., 0])


def test_model_none_is_the_default_and_other_objects_are_refused(grid_clip: Path) -> None:
    assert Transcriber(None).model_name == DEFAULT_MODEL
    with pytest.raises(ArgumentError, match="not int"):
        Transcriber(3)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="the model name is empty"):
        Transcriber("")
    with pytest.raises(ArgumentError, match="the model name is empty"):
        lipread.load_model("  ")


def test_a_locator_must_be_one(tiny: Path, grid_clip: Path) -> None:
    for bad, named in (("fixed", "a str"), (FixedCrop, "a type")):
        with pytest.raises(ArgumentError, match=f"locator must be a mouth locator .* not {named}"):
            lipread.transcribe(grid_clip, model=tiny, locator=bad)  # type: ignore[arg-type]
    assert lipread.transcribe(grid_clip, model=tiny, locator=FixedCrop()).text is not None


@pytest.mark.parametrize(
    ("edges", "message"),
    [
        ((-10, 40, -10, 100), r"0 <= top < bottom and 0 <= left < right, got rows -10:40, cols -10:100"),
        ((5, 5, 0, 3), r"got rows 5:5"),
        ((190.5, 236, 80, 220), r"Box.top must be a whole number of pixels, not 190.5"),
        ((True, 236, 80, 220), r"Box.top must be a whole number"),
    ],
)
def test_a_box_must_be_one(edges: tuple[object, ...], message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        Box(*edges)  # type: ignore[arg-type]


def test_a_box_takes_numpy_integers() -> None:
    box = Box(np.int64(3), np.int32(5), 0, 4)  # type: ignore[arg-type]
    assert box == Box(3, 5, 0, 4) and type(box.top) is int


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: FaceMouthLocator(step=0), r"FaceMouthLocator.step must be a whole number of frames >= 1, not 0"),
        (lambda: FaceMouthLocator(every=0), r"FaceMouthLocator.every must be"),
        (lambda: FaceMouthLocator(step=2.5), r"not 2.5"),
        (lambda: AlignedMouthLocator(face_step=-1), r"AlignedMouthLocator.face_step must be"),
    ],
)
def test_locator_steps_are_checked_when_made(make: object, message: str) -> None:
    with pytest.raises(ArgumentError, match=message):
        make()  # type: ignore[operator]
    assert FaceMouthLocator(every=None).every is None


def test_a_word_list_file_is_a_lexicon(tiny: Path, grid_clip: Path, tmp_path: Path) -> None:
    words = ["bin", "blue", "at", "f", "two", "now"]
    file = tmp_path / "words.txt"
    file.write_text("\n".join(words) + "\n", encoding="utf-8")
    from_file = lipread.transcribe(grid_clip, model=tiny, decoder="lexicon", lexicon=file)
    assert from_file.text == lipread.transcribe(grid_clip, model=tiny, decoder="lexicon", lexicon=words).text
    assert set(from_file.text.split()) <= set(words)
    # a word list asks for the lexicon decoder, as --lexicon does on the command line; another decoder is refused
    implied = lipread.transcribe(grid_clip, model=tiny, lexicon=words)
    assert implied.decoder == "lexicon" and implied.text == from_file.text
    for other in ("grammar", "beam", "greedy"):
        with pytest.raises(
            ArgumentError, match=f"a lexicon is only used by the lexicon decoder, not by decoder='{other}'"
        ):
            Transcriber(tiny, decoder=other, lexicon=words)
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    with pytest.raises(DecodingError, match=r"empty.txt: the word list is empty"):
        Transcriber(tiny, decoder="lexicon", lexicon=tmp_path / "empty.txt")
    with pytest.raises(DecodingError, match=r"the lexicon's words must be strings, not int \(1\)"):
        Transcriber(tiny, decoder="lexicon", lexicon=[1, 2])  # type: ignore[list-item]
    with pytest.raises(DecodingError, match="a word list file: give a Path"):
        Transcriber(tiny, decoder="lexicon", lexicon=str(file))


def test_decoder_names_in_any_case(tiny: Path, grid_clip: Path) -> None:
    got = lipread.transcribe(grid_clip, model=tiny, decoder=" Grammar")
    assert got.decoder == "grammar"
    assert got.text == lipread.transcribe(grid_clip, model=tiny, decoder="grammar").text


def test_subtitles_of_a_transcript_in_any_case(tiny: Path, grid_clip: Path, tmp_path: Path) -> None:
    t = lipread.transcribe(grid_clip, model=tiny, decoder="grammar")
    by_suffix = write_subtitles(t, tmp_path / "clip.SRT")
    named = write_subtitles(t.words, tmp_path / "clip.txt", "SRT")
    assert by_suffix.read_text(encoding="utf-8") == named.read_text(encoding="utf-8")
    assert by_suffix.read_text(encoding="utf-8").count(" --> ") == len(t.words) == 6
    assert write_subtitles(t, tmp_path / "clip.vtt").read_text(encoding="utf-8").startswith("WEBVTT\n")
    with pytest.raises(ArgumentError, match=r"unknown subtitle format 'txt'; use 'srt' or 'vtt'"):
        write_subtitles(t, tmp_path / "clip.txt")
    with pytest.raises(ArgumentError, match=r"clip: no subtitle format given, and the name ends in neither"):
        write_subtitles(t, tmp_path / "clip")
    with pytest.raises(ArgumentError, match=r"the subtitle format is 'srt' or 'vtt', not 3"):
        write_subtitles(t, tmp_path / "clip.srt", 3)  # type: ignore[arg-type]


def test_a_rate_within_a_thousandth_of_25_is_25(tiny: Path, frames: np.ndarray) -> None:
    runner = Transcriber(tiny, decoder="greedy")
    exact = runner.transcribe(frames, fps=25)
    for fps in (25.0000001, 24.9999999, 25.0004):
        near = runner.transcribe(frames, fps=fps)
        assert near.warnings == exact.warnings == ()
        assert near.text == exact.text
    assert any("frame rate resampled" in w for w in runner.transcribe(frames, fps=25.001).warnings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": -5}, r"start must be a whole number of frames >= 0, not -5"),
        ({"max_frames": -1}, r"max_frames must be a whole number of frames >= 1, not -1"),
        ({"max_frames": 0}, r"max_frames must be a whole number of frames >= 1, not 0"),
        ({"max_frames": 2.5}, r"not 2.5"),
    ],
)
def test_frame_spans_are_checked_for_files_and_folders(
    grid_clip: Path, shared_data: Path, kwargs: dict[str, object], message: str
) -> None:
    folder = shared_data / "grid" / "faces" / "s4" / "bbie7p"
    for path in (grid_clip, folder):
        with pytest.raises(ArgumentError, match=message):
            read_frames(path, **kwargs)  # type: ignore[arg-type]


def test_probe_checks_a_folders_rate(shared_data: Path) -> None:
    folder = shared_data / "grid" / "faces" / "s4" / "bbie7p"
    assert probe(folder, fps=30).fps == 30.0
    with pytest.raises(ArgumentError, match=r"fps must be a positive number of frames per second, not -3"):
        probe(folder, fps=-3)


def test_options_a_backend_does_not_take_are_named(tiny: Path, tmp_path: Path) -> None:
    from lipread.errors import BackendError

    with pytest.raises(BackendError, match=r"does not take the option\(s\) thread; it takes threads, device$"):
        lipread.load_model(tiny, thread=2)
    with pytest.raises(BackendError, match=r"does not take the option\(s\) beam; it takes threads, device$"):
        lipread.load_model(tiny, threads=1, beam=3)
