"""Live reading with the shipped model, measured against files: a stream made of GRID clips one after
another reads as one segment per clip, with the text the same model reads from the clip alone (whatever
that is: the model is not judged here) and boundaries within 0.3 s of the clip's speech (its ``.align``
times). And ``lipread live`` on a file, on a source that cannot be opened, and stopped with Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np
import pytest

from lipread.cli.app import main
from lipread.data.align import load_alignment
from lipread.live import source as live_source
from lipread.video.reader import read_frames

CLIPS = ("bbaf2n", "bgit4n", "bwbn5a")
"""Three speaker-1 clips spread over the corpus (every 97th by name); the silence between their sentences
(the first's trailing plus the next one's leading) is 0.8 s or more, longer than the default pause."""

TOLERANCE = 0.3
"""Seconds a segment boundary may be from the first spoken word's start / the last one's end."""


@pytest.fixture(scope="module")
def transcriber() -> object:
    pytest.importorskip("onnxruntime")
    from lipread.api import Transcriber

    return Transcriber(threads=1)


@pytest.fixture(scope="module")
def clips(grid_root: Path) -> list[tuple[Path, np.ndarray, float, float]]:
    """(path, frames, speech start, speech end) per clip, times in seconds of the clip."""
    out = []
    for name in CLIPS:
        path = grid_root / "s1" / f"{name}.mp4"
        words = load_alignment(grid_root / "alignments" / "s1" / f"{name}.align").words
        out.append((path, read_frames(path), words[0].start, words[-1].end))
    return out


def test_a_stream_of_clips_reads_as_the_clips_alone(transcriber: object, clips: list) -> None:
    alone = [transcriber.transcribe(path).text for path, *_ in clips]  # type: ignore[attr-defined]
    stream = np.concatenate([frames for _, frames, *_ in clips])
    segments = list(transcriber.stream(iter(stream), 25.0))  # type: ignore[attr-defined]
    # A segment is read with the frames around it in the stream, not with its file's own first and last
    # frames, so a word the model is unsure of (GRID's letter slot) may come out otherwise: every sentence is
    # its own segment and differs from the clip read alone in at most one word.
    assert len(segments) == len(alone)
    for segment, text in zip(segments, alone):
        read, expected = segment.text.split(), text.split()
        assert len(read) == len(expected) and sum(a != b for a, b in zip(read, expected)) <= 1, (read, expected)
    offset = 0.0
    for segment, (_, frames, start, end) in zip(segments, clips):
        assert abs(segment.start - (offset + start)) <= TOLERANCE, segment
        assert abs(segment.end - (offset + end)) <= TOLERANCE, segment
        assert segment.words[0].start == segment.start and segment.words[-1].end == segment.end
        assert 0.0 < segment.confidence <= 1.0
        offset += len(frames) / 25.0


def test_lipread_live_prints_each_utterance(
    grid_clip: Path, transcriber: object, capsys: pytest.CaptureFixture
) -> None:
    alone = transcriber.transcribe(grid_clip).text.split()  # type: ignore[attr-defined]
    assert main(["live", str(grid_clip), "--format", "json", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    # The utterance is read with the frames around it, not the file's own: at most a word the model is unsure
    # of may differ from the clip read alone, as in test_a_stream_of_clips_reads_as_the_clips_alone.
    read = record["text"].split()
    assert len(read) == len(alone) and sum(a != b for a, b in zip(read, alone)) <= 1, (read, alone)
    assert [w["word"] for w in record["words"]] == read
    assert {"start", "end", "confidence", "model", "backend", "decoder"} <= set(record)
    assert main(["live", str(grid_clip), "--threads", "1"]) == 0
    start, end, text = capsys.readouterr().out.rstrip("\n").split("\t")
    assert text == record["text"]
    assert abs(float(start) - record["start"]) < 0.006 and abs(float(end) - record["end"]) < 0.006


def test_lipread_live_reads_with_the_int8_model_when_asked(grid_clip: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    from lipread.api import Transcriber
    from lipread.models import DEFAULT_MODEL
    from lipread.transcription.loading import with_precision

    assert main(["live", str(grid_clip), "--format", "json", "--threads", "1", "--precision", "int8"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert Path(record["model"]).name == "lipnet-grid-s1.int8.onnx"
    # as the int8 model reads the clip alone, to a word (see test_lipread_live_prints_each_utterance)
    alone = Transcriber(with_precision(DEFAULT_MODEL, "int8"), threads=1).transcribe(grid_clip).text.split()
    read = record["text"].split()
    assert len(read) == len(alone) and sum(a != b for a, b in zip(read, alone)) <= 1, (read, alone)
    assert main(["live", str(grid_clip), "--precision", "int8", "--model", str(grid_clip)]) == 1
    assert "int8 precision picks a shipped model" in capsys.readouterr().err


def test_lipread_live_says_when_the_face_is_unlike_the_training_data(
    shared_data: Path, grid_clip: Path, capsys: pytest.CaptureFixture
) -> None:
    """As lipread transcribe says it of a file: an utterance that is not in the model's domain gets the warning
    on stderr, in either format; speaker 1's does not."""
    pytest.importorskip("onnxruntime")
    from lipread.transcription.domain import WARNING

    other = shared_data / "grid" / "faces" / "s4" / "bbie7p"  # another speaker, another framing
    for fmt in ("txt", "json"):
        assert main(["live", str(other), "--threads", "1", "--format", fmt]) == 0
        out, err = capsys.readouterr()
        segments = out.splitlines()
        assert segments and re.fullmatch(
            rf"(lipread: warning: {re.escape(str(other))}: \d+\.\d\d-\d+\.\d\d s: {re.escape(WARNING)}\n)+", err
        ), err
        assert err.count("\n") <= len(segments)
    assert main(["live", str(grid_clip), "--threads", "1"]) == 0
    assert capsys.readouterr().err == ""


def test_a_file_cut_short_is_read_and_then_said(mpg_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    cut = tmp_path / "cut.mpg"
    data = mpg_clip.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])  # an interrupted copy: the sentence ends in the part still there
    assert main(["live", str(cut), "--threads", "1"]) == 0
    _, err = capsys.readouterr()
    assert err.startswith(f"lipread: warning: {cut}: clip cut short: the file is truncated") and err.count("\n") == 1


def test_a_source_that_cannot_be_opened_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("onnxruntime")
    assert main(["live", str(tmp_path / "missing.mp4")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lipread: error: ") and "missing.mp4" in err and len(err.splitlines()) == 1


def test_ctrl_c_reads_the_utterance_in_progress_and_exits_cleanly(
    clips: list, transcriber: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """SIGINT arrives half a second after the second clip's sentence ended, before the (one second) pause
    that would end it: no more frames are taken, and the sentence in progress is read and printed."""
    (_, first, *_), (_, second, _, end) = clips[0], clips[1]
    stop_at = len(first) + round(end * 25) + 13
    taken = 0

    def frames() -> Iterator[np.ndarray]:
        nonlocal taken
        for frame in np.concatenate([first, second, first]):
            taken += 1
            if taken == stop_at:
                os.kill(os.getpid(), signal.SIGINT)
            yield frame

    opened = live_source.FrameSource("stand-in camera", "camera", 25.0, frames())
    monkeypatch.setattr(live_source, "open_source", lambda spec, realtime=False, fps=None: opened)
    before = signal.getsignal(signal.SIGINT)  # ignored under nohup or in a background job
    assert main(["live", "0", "--pause", "1", "--threads", "1"]) == 0
    texts = [line.split("\t")[2] for line in capsys.readouterr().out.splitlines()]
    alone = [transcriber.transcribe(path).text for path, *_ in clips[:2]]  # type: ignore[attr-defined]
    assert texts == alone
    assert taken == stop_at  # no frame is asked for after the signal
    assert signal.getsignal(signal.SIGINT) is before  # the handler the command found is back


def test_the_overlay_example_writes_the_captioned_video(clips: list, transcriber: object, tmp_path: Path) -> None:
    """``examples/live_overlay.py`` on a file of two clips: it prints the sentences ``Transcriber.stream`` reads
    from the file, and writes every frame, those after the first sentence was read with the caption band."""
    import subprocess
    import sys

    import cv2

    stream = np.concatenate([frames for _, frames, *_ in clips[:2]])
    video = tmp_path / "two.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (stream.shape[2], stream.shape[1]))
    for frame in stream:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "captioned.mp4"
    proc = subprocess.run(
        [sys.executable, str(root / "examples" / "live_overlay.py"), str(video), "--output", str(out)],
        env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    texts = [line.split(": ", 1)[1] for line in proc.stdout.splitlines()]
    expected = transcriber.stream(iter(read_frames(video)), 25.0)  # type: ignore[attr-defined]
    assert texts == [s.text for s in expected] and len(texts) == 2
    cap = cv2.VideoCapture(str(out))
    written = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        written.append(frame)
    cap.release()
    assert len(written) == len(stream)
    band = slice(-30, None)  # the bottom rows: darkened under the caption (its letters are white)
    late = len(clips[0][1]) + 25
    assert np.median(written[late][band]) < 0.5 * np.median(stream[late][band])
    assert abs(np.median(written[10][band]) - np.median(stream[10][band])) < 10  # no caption yet


def test_stream_checks_the_rate_at_once_and_reads_nothing_from_nothing(transcriber: object) -> None:
    from lipread.errors import VideoError

    with pytest.raises(VideoError, match=r"frame rate of 0\.5 fps"):
        transcriber.stream(iter(()), 0.5)  # type: ignore[attr-defined]
    assert list(transcriber.stream(iter(()), 30.0)) == []  # type: ignore[attr-defined]


def test_realtime_paces_a_file_at_the_rate_given(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--realtime --fps 50 plays a frame folder (which states no rate) twice as fast as its default 25 fps:
    the last of its 75 frames is due 74 / 50 s after the first."""
    waits: list[float] = []
    monkeypatch.setattr(live_source.time, "sleep", waits.append)
    folder = shared_data / "grid" / "faces" / "s4" / "bbie7p"
    for fps, due in ((50.0, 74 / 50), (None, 74 / 25)):
        waits.clear()
        source = live_source.open_source(str(folder), realtime=True, fps=fps)
        assert sum(1 for _ in source.frames()) == 75
        assert due - 0.3 < max(waits) <= due


def test_segments_never_overlap(transcriber: object, shared_data: Path) -> None:
    """Speech slowed down (clips of other speakers played at 10 fps) is read as utterances close together; a
    word's alignment may reach into the context the utterance before was read with, but the segments given out
    follow each other in time, their words too. Every clip of speaker 4 (7), so that the test does not hang on
    how one clip happens to be cut by one model."""
    pairs = 0
    for folder in sorted(p for p in (shared_data / "grid" / "faces" / "s4").iterdir() if p.is_dir()):
        clip = folder.name
        frames = read_frames(folder)
        segments = list(transcriber.stream(iter(frames), fps=10.0))  # type: ignore[attr-defined]
        for before, after in pairwise(segments):
            assert before.end <= after.start, (clip, before, after)
            pairs += 1
        for segment in segments:
            times = [t for w in segment.words for t in (w.start, w.end)]
            assert times == sorted(times) and segment.start == times[0] and segment.end == times[-1]
    assert pairs >= 2


def test_a_segment_starts_where_the_one_before_it_ended() -> None:
    """The words of a segment that reach back before the end of the one before it are moved up to that end;
    a segment after it is left as it is."""
    from lipread.api import Word
    from lipread.live.stream import Segment, _after

    words = (Word("bin", 1.0, 1.4, 0.9), Word("blue", 1.4, 1.6, 0.8), Word("at", 1.7, 1.8, 0.7))
    segment = Segment(1.0, 1.8, "bin blue at", words, 0.8)
    moved = _after(segment, 1.5)
    assert [(w.start, w.end) for w in moved.words] == [(1.5, 1.5), (1.5, 1.6), (1.7, 1.8)]
    assert (moved.start, moved.end, moved.text) == (1.5, 1.8, "bin blue at")
    assert _after(segment, 1.0) is segment


def test_a_frame_rate_out_of_range_names_the_stream(transcriber: object, grid_clip: Path) -> None:
    """The error names what the frames are (the CLI gives the file), not ``<frames>``."""
    from lipread.errors import VideoError

    frames = read_frames(grid_clip, max_frames=3)
    with pytest.raises(VideoError, match=r"^clip\.mp4: a frame rate of 0\.5 fps is outside"):
        transcriber.stream(iter(frames), fps=0.5, name="clip.mp4")  # type: ignore[attr-defined]
    with pytest.raises(VideoError, match=r"^<frames>: a frame rate of 2000 fps"):
        transcriber.stream(iter(frames), fps=2000)  # type: ignore[attr-defined]


def test_a_file_with_nothing_to_read_says_so(grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Five frames hold no utterance: the command says that nothing was read instead of printing nothing."""
    pytest.importorskip("onnxruntime")
    short = tmp_path / "short"
    short.mkdir()
    for i, frame in enumerate(read_frames(grid_clip, max_frames=5), 1):
        assert cv2.imwrite(str(short / f"{i}.png"), frame[..., ::-1])
    assert main(["live", str(short), "--threads", "1"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    said = "no speech was seen (or no face), the video is too short, or what was read fell below --min-confidence"
    assert err == f"lipread: warning: {short}: no utterance was read: {said} 0.1\n"
    # Speech that was read, all of it below --min-confidence: the warning names that cause too
    assert main(["live", str(grid_clip), "--threads", "1", "--min-confidence", "1"]) == 0
    out, err = capsys.readouterr()
    assert out == "" and err == f"lipread: warning: {grid_clip}: no utterance was read: {said} 1\n"
    # with no confidence floor, nothing is read below it, and the warning does not say so
    assert main(["live", str(short), "--threads", "1", "--min-confidence", "0"]) == 0
    plain = "no speech was seen (or no face), or the video is too short"
    assert capsys.readouterr().err == f"lipread: warning: {short}: no utterance was read: {plain}\n"


def test_an_utterance_without_a_face_in_places_is_told_in_the_streams_seconds(
    clips: list, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """As lipread transcribe tells it of a clip, on stderr in either format, with the times of the stream (the
    second sentence's, not of the utterance read as a clip of its own)."""
    pytest.importorskip("onnxruntime")
    second = clips[1][1].copy()
    # the face gone for 4 frames in 6, too briefly to end the utterance, and in at least one of any two frames
    # 15 apart (those the face is looked for in)
    for at in range(20, 56, 6):
        second[at : at + 4] = 0
    stream = np.concatenate([clips[0][1], second])
    video = tmp_path / "stream.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (360, 288))
    for frame in stream:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    for fmt in ("txt", "json"):
        assert main(["live", str(video), "--threads", "1", "--format", fmt]) == 0
        out, err = capsys.readouterr()
        told = re.findall(r"(\d+\.\d\d)-(\d+\.\d\d) s: frames without a face: .*\(between (\d+\.\d\d) s and", err)
        assert len(told) == 1 and len(out.splitlines()) == 2, err
        start, end, gap = (float(x) for x in told[0])
        assert 3.0 <= start < end and 3.0 + 20 / 25 - 0.6 <= gap < end, err


def test_a_warning_every_utterance_gives_is_told_once(
    grid_clip: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Colour missing from a grey camera is news once, not under every sentence; times that differ are told each."""
    pytest.importorskip("onnxruntime")
    from lipread.api import Transcriber, Word
    from lipread.live.stream import Segment

    def stream(self: object, frames: Iterator[np.ndarray], *args: object, **kwargs: object) -> Iterator[Segment]:
        for k, gap in enumerate(("between 1.00 s and 1.60 s", "between 5.00 s and 5.60 s")):
            details = {"warnings": ["colour missing: grey", f"frames without a face: ({gap})"], "in_domain": True}
            yield Segment(4.0 * k, 4.0 * k + 1, "bin", (Word("bin", 4.0 * k, 4.0 * k + 1, 1.0),), 1.0, details)

    monkeypatch.setattr(Transcriber, "stream", stream)
    assert main(["live", str(grid_clip), "--threads", "1"]) == 0
    told = [line.split(": ", 3)[3] for line in capsys.readouterr().err.splitlines()]
    assert told == [
        "0.00-1.00 s: colour missing: grey",
        "0.00-1.00 s: frames without a face: (between 1.00 s and 1.60 s)",
        "4.00-5.00 s: frames without a face: (between 5.00 s and 5.60 s)",
    ]
