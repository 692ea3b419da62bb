"""Clips prepared in worker threads while the model runs (:mod:`lipread.transcription.pipeline`): results in
input order, unreadable items reported in their place and skipped, a bounded number of clips in flight, and
the same transcripts as reading the clips one by one (API, ``lipread transcribe``, ``lipread eval``)."""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from lipread.errors import ArgumentError, LipreadError, VideoError
from lipread.transcription.pipeline import available_cores, prepared_in_order, resolve_workers, transcribe_stream
from lipread.transcription.transcriber import PreparedClip


def clip(n: int) -> PreparedClip:
    """A stand-in prepared clip that carries its item's number in its single frame."""
    return PreparedClip(np.full((1, 1, 1, 1), n, np.float32), 25.0, str(n))


def jittered(n: int) -> PreparedClip:
    """Prepare item ``n`` after a random pause, so that workers finish out of order."""
    time.sleep(random.Random(n).uniform(0, 0.01))
    if n % 5 == 3:
        raise VideoError(f"item {n}: unreadable")
    return clip(n)


def test_results_come_in_input_order_with_errors_in_their_place() -> None:
    got = list(prepared_in_order(range(40), jittered, workers=4, ahead=6))
    assert [item for item, _ in got] == list(range(40))
    for n, result in got:
        if n % 5 == 3:
            assert isinstance(result, VideoError) and str(result) == f"item {n}: unreadable"
        else:
            assert isinstance(result, PreparedClip) and result.path == str(n)


def test_work_runs_in_parallel_threads() -> None:
    names: set[str] = set()
    barrier = threading.Barrier(3, timeout=10)  # only passes if three items are prepared at once

    def prepare(n: int) -> PreparedClip:
        names.add(threading.current_thread().name)
        barrier.wait()
        return clip(n)

    assert [n for n, _ in prepared_in_order(range(3), prepare, workers=3, ahead=3)] == [0, 1, 2]
    assert len(names) == 3 and all(n.startswith("lipread-prepare") for n in names)


def test_at_most_ahead_items_are_in_flight() -> None:
    lock = threading.Lock()
    started = 0
    handed = 0
    most = 0

    def prepare(n: int) -> PreparedClip:
        nonlocal started, most
        with lock:
            started += 1
            most = max(most, started - handed)
        return clip(n)

    for _ in prepared_in_order(range(100), prepare, workers=3, ahead=5):
        with lock:
            handed += 1
        time.sleep(0.001)  # a slow consumer: the workers must wait, not run ahead
    assert started == 100 and most <= 5


def test_other_exceptions_propagate_in_their_turn() -> None:
    def prepare(n: int) -> PreparedClip:
        if n == 2:
            raise RuntimeError("a bug")
        return clip(n)

    seen = []
    with pytest.raises(RuntimeError, match="a bug"):
        for n, _ in prepared_in_order(range(10), prepare, workers=2, ahead=3):
            seen.append(n)
    assert seen == [0, 1]


def test_closing_early_cancels_the_rest() -> None:
    started: list[int] = []

    def prepare(n: int) -> PreparedClip:
        started.append(n)
        return clip(n)

    stream = prepared_in_order(range(1000), prepare, workers=2, ahead=4)
    assert next(stream)[0] == 0
    stream.close()
    assert len(started) <= 4


def test_workers_default_to_every_core_and_reject_negatives() -> None:
    assert resolve_workers(0) == resolve_workers(None) == available_cores() >= 1
    assert resolve_workers(3) == 3
    for bad in (-1, True, False, 1.5):
        with pytest.raises(ArgumentError, match="workers must be a non-negative integer"):
            resolve_workers(bad)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError):
        list(prepared_in_order([1], clip, workers=0, ahead=1))


class FakeRunner:
    """What :func:`transcribe_stream` needs of a Transcriber: ``batch_size``, ``prepare`` and ``run``."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self.batches: list[list[str | None]] = []

    def prepare(self, n: int) -> PreparedClip:
        return jittered(n)

    def run(self, clips: list[PreparedClip]) -> list[str]:
        self.batches.append([c.path for c in clips])
        return [f"text {c.path}" for c in clips]


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_stream_batches_good_clips_and_passes_errors_through(batch_size: int) -> None:
    runner = FakeRunner(batch_size)
    got = list(transcribe_stream(runner, range(23), workers=3))  # type: ignore[arg-type]
    assert [n for n, _ in got] == list(range(23))
    for n, out in got:
        assert isinstance(out, VideoError) if n % 5 == 3 else out == f"text {n}"
    assert all(1 <= len(b) <= batch_size for b in runner.batches)
    assert [p for b in runner.batches for p in b] == [str(n) for n in range(23) if n % 5 != 3]
    assert all(len(b) == batch_size for b in runner.batches[:-1])  # only the last batch is short


def test_stream_of_only_errors_runs_nothing() -> None:
    runner = FakeRunner(2)
    got = list(transcribe_stream(runner, [3, 8, 13], workers=2))  # type: ignore[arg-type]
    assert all(isinstance(out, LipreadError) for _, out in got) and runner.batches == []


# ---------------------------------------------------------------------------------------------------------
# With a real model (the tiny ONNX model of tests/tiny_onnx.py) on GRID clips
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tiny_onnx import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def clips(grid_root: Path) -> list[Path]:
    return sorted((grid_root / "s1").glob("*.mp4"))[:7]


def test_api_list_matches_clips_read_one_by_one(tiny: Path, clips: list[Path]) -> None:
    from lipread.api import Transcriber

    sequential = Transcriber(str(tiny), batch_size=1, workers=1)
    expected = [sequential.run([sequential.prepare(p)])[0] for p in clips]
    for batch_size, workers in ((1, 3), (4, 2)):
        got = Transcriber(str(tiny), batch_size=batch_size, workers=workers).transcribe(clips)
        assert isinstance(got, list)
        assert [t.path for t in got] == [str(p) for p in clips]
        assert [t.text for t in got] == [t.text for t in expected]
        for t, e in zip(got, expected):  # batches of other sizes round differently in the last digits
            assert [(w.word, w.start, w.end) for w in t.words] == [(w.word, w.start, w.end) for w in e.words]
            assert t.confidence == pytest.approx(e.confidence, rel=1e-5)


def test_api_list_raises_the_first_unreadable_clip(tiny: Path, clips: list[Path], tmp_path: Path) -> None:
    from lipread.api import Transcriber

    empty, missing = tmp_path / "empty.mp4", tmp_path / "missing.mp4"
    empty.write_bytes(b"")
    with pytest.raises(LipreadError, match=r"empty\.mp4"):
        Transcriber(str(tiny), workers=2).transcribe([clips[0], empty, clips[1], missing])


def run_command(module: object, name: str, argv: list[str]) -> int:
    """Parse and run a ``lipread`` sub-command in this process, the way ``lipread.cli.app.main`` does."""
    parser = argparse.ArgumentParser(prog="lipread")
    module.add_parser(parser.add_subparsers()).set_defaults(_run=module.run)  # type: ignore[attr-defined]
    args = parser.parse_args([name, *argv])
    try:
        return int(args._run(args))
    except LipreadError as e:
        print(f"lipread: error: {e}", file=sys.stderr)
        return 1


def test_transcribe_command_in_parallel_matches_one_worker(
    tiny: Path, clips: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipread.cli import transcribe

    folder = tmp_path / "videos"
    folder.mkdir()
    for p in clips:
        shutil.copy(p, folder / p.name)
    (folder / "broken.mp4").write_text("not a video")
    outputs = []
    for workers in ("1", "3"):
        argv = [str(folder), "--model", str(tiny), "--workers", workers, "--batch-size", "2", "--no-progress"]
        assert run_command(transcribe, "transcribe", argv) == 1  # the broken file
        out, err = capsys.readouterr()
        assert err.count("lipread: error:") == 1 and "broken.mp4" in err
        outputs.append(out)
    lines = outputs[0].splitlines()
    assert outputs[0] == outputs[1]
    assert [line.split("\t")[0] for line in lines] == [str(folder / p.name) for p in clips]


def test_eval_in_parallel_matches_one_worker(tiny: Path, grid_root: Path) -> None:
    from lipread.cli.eval import evaluate

    one = evaluate(grid_root, str(tiny), split="all", max_clips=6, workers=1)
    many = evaluate(grid_root, str(tiny), split="all", max_clips=6, workers=3, batch_size=4)
    assert one["clips"] == many["clips"] == 6
    for key in ("cer", "wer", "sentence_accuracy", "median_start_error_ms", "slot_error_rates"):
        assert one[key] == many[key], key


def test_workers_option_is_checked() -> None:
    from lipread.cli import transcribe

    parser = argparse.ArgumentParser(prog="lipread")
    transcribe.add_parser(parser.add_subparsers())
    assert parser.parse_args(["transcribe", "x.mp4"]).workers == 0
    assert parser.parse_args(["transcribe", "x.mp4", "--workers", "3"]).workers == 3
    with pytest.raises(SystemExit):
        parser.parse_args(["transcribe", "x.mp4", "--workers", "-1"])


def test_precision_picks_the_shipped_int8_file_only_when_present(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lipread import models
    from lipread.cli import transcribe
    from lipread.errors import CheckpointError
    from lipread.transcription import loading

    assert transcribe.PRECISIONS == loading.PRECISIONS
    assert loading.with_precision("lipnet-grid-s1", "fp32") == "lipnet-grid-s1"
    assert loading.with_precision("mine.onnx", "fp32") == "mine.onnx"
    monkeypatch.setattr(models, "FOLDER", tmp_path)
    with pytest.raises(CheckpointError, match=r"lipnet-grid-s1\.int8\.onnx: the int8 file .* not in this installation"):
        loading.with_precision("lipnet-grid-s1", "int8")
    (tmp_path / "lipnet-grid-s1.int8.onnx").write_bytes(b"")
    assert loading.with_precision("lipnet-grid-s1", "int8") == tmp_path / "lipnet-grid-s1.int8.onnx"
    with pytest.raises(CheckpointError, match=r"mine\.onnx: int8 precision picks a shipped model"):
        loading.with_precision("mine.onnx", "int8")
    with pytest.raises(CheckpointError, match="unknown precision"):
        loading.with_precision("lipnet-grid-s1", "fp16")


def test_precision_option_reports_a_missing_int8_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lipread import models
    from lipread.cli import transcribe

    monkeypatch.setattr(models, "FOLDER", tmp_path)
    assert run_command(transcribe, "transcribe", ["x.mp4", "--precision", "int8"]) == 1
    assert "the int8 file of lipnet-grid-s1 is not in this installation" in capsys.readouterr().err


def test_model_threads_leave_cores_to_the_workers(tiny: Path) -> None:
    from lipread.cli.transcribe import model_options
    from lipread.transcription.pipeline import model_threads

    assert model_threads(1) == 1 and model_threads(2) == 1 and model_threads(16) == 8
    assert model_options(3, str(tiny), None, clips=10) == {"threads": 3}  # asked for: kept
    assert model_options(None, str(tiny), None, clips=10) == {"threads": model_threads()}
    assert model_options(None, str(tiny), None, clips=1) == {}  # one clip: the model has every core
