"""A corpus of bad inputs, made by the tests: each must end in the right LipreadError, naming the file and
the problem, within a time limit, without crashing the process.

Every case runs in a separate sandbox process (one, reused) so that a hang fails that case after
``CASE_TIMEOUT`` seconds instead of stalling the suite, and a crash (a signal from native code) fails it
instead of killing pytest. The files are written by the tests into temporary folders; nothing binary is
kept in the repository.

Decided behaviour for inputs that are odd but readable (tested at the end):

- Frame rates other than 25 fps are resampled to 25 fps (nearest frame) before the model; word times are
  seconds of the original clip.
- A truncated ``.mpg`` (MPEG program streams declare no frame count) is read as the shorter clip it decodes
  to; when that is fewer frames than the model's 3D convolutions span (7 frames), it is "too short".
"""

from __future__ import annotations

import json
import multiprocessing
import os
import pickle
import re
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import lipread
from lipread import api
from lipread.config import LIPNET
from lipread.data import grid
from lipread.data.align import load_alignment, parse_alignment
from lipread.decoding import beam_search, beam_search_batch, greedy_decode, greedy_decode_batch
from lipread.errors import AlignmentError, CheckpointError, DecodingError, LipreadError, VideoError
from lipread.video.reader import read_frames
from lipread.vocab import LIPNET_VOCABULARY
from lipread.weights import load_checkpoint, save_checkpoint

CASE_TIMEOUT = 20.0
"""Seconds one case may take before it counts as a hang."""

SMALL = LIPNET.with_(rnn_hidden=8)
"""A small model config for checkpoints made by the tests."""


# --------------------------------------------------------------------------------------------------
# The sandbox process
# --------------------------------------------------------------------------------------------------


class Outcome(NamedTuple):
    """What a call in the sandbox did: the exception's class name (None when it returned) and message."""

    error: str | None
    lipread: bool
    message: str
    trace: str


def _serve(conn: Connection) -> None:
    """The sandbox's loop: run each ``(function, args, kwargs)`` received and send back its Outcome."""
    cv2.setNumThreads(1)
    while True:
        try:
            func, args, kwargs = conn.recv()
        except EOFError:
            return
        try:
            result = func(*args, **kwargs)
            outcome = Outcome(None, False, repr(result)[:300], "")
        except BaseException as e:  # report everything that escapes, whatever its type
            outcome = Outcome(type(e).__name__, isinstance(e, LipreadError), str(e), traceback.format_exc())
        conn.send(outcome)


class Sandbox:
    """A spawned process that runs calls one at a time, each within a time limit."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child,), daemon=True)
        self._proc.start()
        child.close()

    def _restart(self) -> None:
        self.close()
        self._start()

    def close(self) -> None:
        self._proc.kill()
        self._proc.join()
        self._conn.close()

    def call(self, func: Callable[..., Any], *args: Any, timeout: float = CASE_TIMEOUT, **kwargs: Any) -> Outcome:
        """Run ``func(*args, **kwargs)`` in the sandbox; the test fails on a hang or a crash."""
        what = f"{func.__qualname__}{args!r}"
        self._conn.send((func, args, kwargs))
        if not self._conn.poll(timeout):
            self._restart()
            pytest.fail(f"{what} did not finish within {timeout} s")
        try:
            return self._conn.recv()
        except EOFError:
            self._proc.join()
            code = self._proc.exitcode
            self._restart()
            pytest.fail(f"{what} crashed the process (exit code {code})")


def _needs_onnx() -> None:
    """Skip unless ONNX (to build models) and ONNX Runtime (to run them) are installed."""
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny ONNX model of ``tiny_onnx.py``: the video cases run ``transcribe`` with it."""
    _needs_onnx()
    from tiny_onnx import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


def _warm() -> None:
    """Import what the cases use, so that the first case's time is its own."""
    import lipread.api
    import lipread.video.face
    import lipread.video.reader  # noqa: F401


@pytest.fixture(scope="module")
def sandbox() -> Any:
    box = Sandbox()
    warm = box.call(_warm, timeout=120)  # starting Python and importing: not a case, no tight limit
    assert warm.error is None, warm.trace
    yield box
    box.close()


def _transcribe(path: Path | np.ndarray, model: Path, decoder: str = "greedy", fps: float | None = None) -> str:
    """What a user runs: lipread.transcribe with one inference thread; returns the text."""
    result = lipread.transcribe(path, model=model, decoder=decoder, fps=fps, threads=1)
    assert isinstance(result, lipread.Transcript)
    return result.text


def expect(outcome: Outcome, error: type[LipreadError], problem: str, path: Path | None) -> None:
    """The call raised exactly ``error`` with a message naming ``path`` and matching ``problem``."""
    assert outcome.error == error.__name__ and outcome.lipread, f"expected {error.__name__}, got:\n{outcome}"
    if path is not None:
        assert str(path) in outcome.message, outcome.message
    assert re.search(problem, outcome.message), f"{outcome.message!r} does not match {problem!r}"


# --------------------------------------------------------------------------------------------------
# Videos: written by the tests
# --------------------------------------------------------------------------------------------------


def write_video(path: Path, frames: list[np.ndarray] | np.ndarray, fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """Write ``uint8 (H, W, 3)`` RGB frames with OpenCV (no frames: a file holding no video)."""
    height, width = frames[0].shape[:2] if len(frames) else (288, 360)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened(), f"cannot write {path}"
    for frame in frames:
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


class Sources(NamedTuple):
    """Real GRID files the bad files are made from."""

    mp4: Path
    mpg: Path


def _cut(fraction: float, mpg: bool = False) -> Callable[[Path, Sources], object]:
    """A maker writing the first ``fraction`` of the GRID ``.mp4`` (or ``.mpg``) clip's bytes."""

    def make(path: Path, src: Sources) -> None:
        data = (src.mpg if mpg else src.mp4).read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return make


def _noise(n: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, height, width, 3), dtype=np.uint8)


def _grey(n: int, height: int, width: int) -> np.ndarray:
    return np.full((n, height, width, 3), 128, np.uint8)


def _first_frame(src: Sources, repeat: int = 1) -> np.ndarray:
    return np.repeat(read_frames(src.mp4, max_frames=1), repeat, axis=0)


VIDEO_CASES: dict[str, tuple[Callable[[Path, Sources], object], str]] = {
    "empty.mp4": (lambda p, s: p.write_bytes(b""), r"empty \(0 bytes\)"),
    "empty.mpg": (lambda p, s: p.write_bytes(b""), r"empty \(0 bytes\)"),
    "missing.mp4": (lambda p, s: None, "not found"),
    "folder.mp4": (lambda p, s: p.mkdir(), "is a folder"),
    "text.mp4": (lambda p, s: p.write_text("this is not a video\n" * 40), "cannot decode"),
    "random.mpg": (lambda p, s: p.write_bytes(np.random.default_rng(1).bytes(50_000)), "cannot decode|no frames"),
    "cut-at-1pc.mp4": (_cut(0.01), "cannot decode"),
    "cut-at-10pc.mp4": (_cut(0.10), r"only 0 of the 75 frames .* truncated"),
    "cut-at-50pc.mp4": (_cut(0.50), r"only \d+ of the 75 frames .* truncated"),
    "cut-at-0.1pc.mpg": (_cut(0.001, mpg=True), r"too short to read: 1 frame at 25 fps .* the file is truncated"),
    "cut-at-1pc.mpg": (_cut(0.01, mpg=True), r"too short to read: 1 frame at 25 fps .* the file is truncated"),
    "cut-at-5pc.mpg": (_cut(0.05, mpg=True), r"too short to read: 4 frames at 25 fps"),
    "zero-frames.mp4": (lambda p, s: write_video(p, []), "cannot decode|no frames"),
    "one-frame.mp4": (
        lambda p, s: write_video(p, _first_frame(s)),
        r"too short to read: 1 frame at 25 fps .* at least 0.28 s \(7 frames",
    ),
    "one-frame-at-5fps.mp4": (lambda p, s: write_video(p, _first_frame(s), 5), r"too short to read: 1 frame at 5 fps"),
    "ten-frames-at-60fps.mp4": (
        lambda p, s: write_video(p, _first_frame(s, 10), 60),
        r"too short to read: 10 frames at 60 fps",
    ),
    "half-a-frame-per-second.mp4": (
        lambda p, s: write_video(p, _first_frame(s, 10), 0.5),
        "a frame rate of 0.5 fps is outside the 1 to 1000 fps",
    ),
    "grey.mp4": (lambda p, s: write_video(p, _grey(75, 288, 360)), "no face found"),
    "noise.mp4": (lambda p, s: write_video(p, _noise(75, 288, 360)), "no face found"),
    "tiny-16x16.mp4": (lambda p, s: write_video(p, _noise(30, 16, 16)), "16x16 pixels are too small to find a face"),
    "huge-4000x3000.mp4": (lambda p, s: write_video(p, _grey(7, 3000, 4000)), "no face found"),
    "oversized-5000x4000.mp4": (lambda p, s: write_video(p, _grey(2, 4000, 5000)), "5000x4000 pixels are too large"),
}
"""Bad video file name -> (writes it at the path given, pattern its VideoError must match)."""


@pytest.fixture(scope="module")
def sources(grid_clip: Path, mpg_clip: Path) -> Sources:
    return Sources(grid_clip, mpg_clip)


@pytest.mark.parametrize("name", VIDEO_CASES)
def test_bad_video(name: str, sources: Sources, tiny: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    make, problem = VIDEO_CASES[name]
    path = tmp_path / name
    make(path, sources)
    expect(sandbox.call(_transcribe, path, tiny), VideoError, problem, path)


ARRAY_CASES: dict[str, tuple[np.ndarray, dict[str, Any], str]] = {
    "float-frames": (np.zeros((10, 288, 360, 3), np.float32), {}, "expected uint8 frames"),
    "grey-frames-without-colour": (np.zeros((10, 288, 360), np.uint8), {}, "expected uint8 frames"),
    "frames-of-zero-rows": (np.zeros((10, 0, 360, 3), np.uint8), {}, "expected uint8 frames"),
    "no-frames": (np.zeros((0, 288, 360, 3), np.uint8), {}, r"no frames \(an array of shape \(0, 288, 360, 3\)\)"),
    "frames-at-1e9-fps": (np.zeros((10, 288, 360, 3), np.uint8), {"fps": 1e9}, "outside the 1 to 1000 fps"),
}
"""Bad frames arrays handed to transcribe -> (the array, options, pattern of its VideoError naming <frames>)."""


@pytest.mark.parametrize("name", ARRAY_CASES)
def test_bad_frames_array(name: str, tiny: Path, sandbox: Sandbox) -> None:
    frames, options, problem = ARRAY_CASES[name]
    expect(sandbox.call(_transcribe, frames, tiny, **options), VideoError, "^<frames>: .*" + problem, None)


# --------------------------------------------------------------------------------------------------
# Alignments
# --------------------------------------------------------------------------------------------------

ALIGNMENT_CASES: dict[str, tuple[bytes | None, str]] = {
    "empty": (b"", "alignment is empty"),
    "blank-lines": (b"\n  \r\n\t\n", "alignment is empty"),
    "missing": (None, "alignment file not found"),
    "missing-column": (b"0 23750\n", r":1: expected '<start> <end> <word>'"),
    "extra-column": (b"0 23750 sil\n23750 29500 bin blue\n", r":2: expected '<start> <end> <word>'"),
    "word-first": (b"sil 0 23750\n", r":1: times must be whole numbers"),
    "non-numeric": (b"0 twenty sil\n", r":1: times must be whole numbers"),
    "fractional": (b"0 237.5 sil\n", r":1: times must be whole numbers"),
    "decreasing": (b"0 23750 sil\n20000 29500 bin\n", r":2: start 20000 is before the previous end 23750"),
    "end-before-start": (b"23750 0 sil\n", r":1: end 0 is before start 23750"),
    "negative": (b"-100 23750 sil\n", r":1: negative time -100"),
    "unknown-word": (b"0 23750 sil\n23750 29500 hello\n", r":2: unknown word 'hello'"),
    "crlf-malformed": (b"0 23750 sil\r\n23750 bin\r\n", r":2: expected"),
    "latin-1": (b"0 23750 sil\n23750 29500 b\xe9n\n", r"not UTF-8 text \(bad byte at offset 25\)"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"not UTF-8"),
}
"""Bad ``.align`` file -> (its bytes, or None for no file; pattern its AlignmentError must match)."""


@pytest.mark.parametrize("name", ALIGNMENT_CASES)
def test_bad_alignment(name: str, sandbox: Sandbox, tmp_path: Path) -> None:
    data, problem = ALIGNMENT_CASES[name]
    path = tmp_path / f"{name}.align"
    if data is not None:
        path.write_bytes(data)
    expect(sandbox.call(load_alignment, path, vocabulary=grid.WORDS), AlignmentError, problem, path)


def test_crlf_alignment_parses_like_lf(tmp_path: Path) -> None:
    lines = ["0 23750 sil", "23750 29500 bin", "29500 34000 blue", "34000 35500 sp", "35500 74500 sil"]
    lf, crlf = tmp_path / "lf.align", tmp_path / "crlf.align"
    lf.write_bytes(("\n".join(lines) + "\n").encode())
    crlf.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    a, b = load_alignment(lf, grid.WORDS), load_alignment(crlf, grid.WORDS)
    assert a.entries == b.entries and b.sentence == "bin blue"
    assert b.words[0].start == pytest.approx(23750 / 25_000)


# --------------------------------------------------------------------------------------------------
# Checkpoints and model files
# --------------------------------------------------------------------------------------------------


class _Payload:
    """Unpickling this creates ``marker`` (it reduces to ``open(marker, "w")``)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.marker), "w")


def _checkpoint_bytes(tmp: Path, config: Any = SMALL, tensors: dict[str, np.ndarray] | None = None) -> bytes:
    """A valid lipread checkpoint's bytes."""
    tensors = tensors or {
        "classifier.weight": np.ones((28, 16), np.float32),
        "classifier.bias": np.zeros(28, np.float32),
    }
    return save_checkpoint(tmp / "valid.safetensors", tensors, config).read_bytes()


def _other_safetensors() -> bytes:
    """A valid safetensors file of some other model (its own tensor names, no lipread metadata)."""
    from safetensors.numpy import save

    return save({"encoder.embed.weight": np.zeros((10, 4), np.float32)}, metadata={"format": "pt"})


def _bad_config_checkpoint(tmp: Path) -> bytes:
    """A checkpoint whose lipread metadata holds a config that is not JSON."""
    from safetensors.numpy import save

    valid = _checkpoint_bytes(tmp)
    n = int.from_bytes(valid[:8], "little")
    meta = json.loads(valid[8 : 8 + n])["__metadata__"]
    meta["config"] = "{not json"
    return save({"classifier.bias": np.zeros(28, np.float32)}, metadata=meta)


def _pickle_bytes(tmp: Path) -> bytes:
    """A pickle that, if it were ever loaded, would create ``tmp / "unpickled"``."""
    return pickle.dumps({"state_dict": _Payload(tmp / "unpickled")})


def _onnx_bytes(**kwargs: Any) -> bytes:
    from tiny_onnx import tiny_model

    return tiny_model(**kwargs).SerializeToString()


CHECKPOINT_CASES: dict[str, tuple[Callable[[Path], bytes | None], Callable[..., Any], dict[str, Any], str]] = {
    "random.safetensors": (
        lambda t: np.random.default_rng(2).bytes(4096),
        load_checkpoint,
        {},
        "not a lipread checkpoint",
    ),
    "empty.safetensors": (lambda t: b"", load_checkpoint, {}, r"file is 0 bytes, too short"),
    "cut-in-header.safetensors": (lambda t: _checkpoint_bytes(t)[:60], load_checkpoint, {}, "no safetensors header"),
    "cut-at-50pc.safetensors": (
        lambda t: (b := _checkpoint_bytes(t))[: len(b) // 2],
        load_checkpoint,
        {},
        "checkpoint is truncated",
    ),
    "cut-at-90pc.safetensors": (
        lambda t: (b := _checkpoint_bytes(t))[: len(b) * 9 // 10],
        lipread.load_model,
        {},
        "checkpoint is truncated",
    ),
    "other-model.safetensors": (lambda t: _other_safetensors(), load_checkpoint, {}, "not a lipread checkpoint"),
    "other-model-loaded.safetensors": (
        lambda t: _other_safetensors(),
        lipread.load_model,
        {},
        "not a lipread checkpoint",
    ),
    "other-config.safetensors": (
        _checkpoint_bytes,
        load_checkpoint,
        {"expect": LIPNET},
        "another configuration than expected",
    ),
    "bad-config.safetensors": (_bad_config_checkpoint, load_checkpoint, {}, "'config' is not valid JSON"),
    "pickle.safetensors": (_pickle_bytes, load_checkpoint, {}, "not a lipread checkpoint"),
    "pickle.pt": (_pickle_bytes, lipread.load_model, {}, "not a lipread checkpoint"),
    "missing.safetensors": (lambda t: None, load_checkpoint, {}, "checkpoint file not found"),
    "no-metadata.onnx": (lambda t: _onnx_bytes(metadata=False), lipread.load_model, {}, "without lipread metadata"),
    "other-output.onnx": (lambda t: _onnx_bytes(output="scores"), lipread.load_model, {}, "expected inputs"),
    "random.onnx": (lambda t: np.random.default_rng(3).bytes(4096), lipread.load_model, {}, "not a loadable ONNX"),
    "empty.onnx": (lambda t: b"", lipread.load_model, {}, "not a loadable ONNX"),
    "cut-at-50pc.onnx": (lambda t: (b := _onnx_bytes())[: len(b) // 2], lipread.load_model, {}, "not a loadable ONNX"),
}
"""Bad model file -> (its bytes from a temporary folder, the loader, its options, the CheckpointError pattern)."""


@pytest.mark.parametrize("name", CHECKPOINT_CASES)
def test_bad_checkpoint(name: str, sandbox: Sandbox, tmp_path: Path) -> None:
    make, load, options, problem = CHECKPOINT_CASES[name]
    if name.endswith(".onnx"):
        _needs_onnx()
    path = tmp_path / name
    data = make(tmp_path)
    if data is not None:
        path.write_bytes(data)
    expect(sandbox.call(load, path, **options), CheckpointError, problem, path)
    assert not (tmp_path / "unpickled").exists(), "loading ran code from a pickle"


def test_checkpoint_with_another_models_tensors(sandbox: Sandbox, tmp_path: Path) -> None:
    """Lipread metadata, but the tensors of some other network: the torch backend names what is wrong."""
    pytest.importorskip("torch")
    path = tmp_path / "other-tensors.safetensors"
    path.write_bytes(_checkpoint_bytes(tmp_path, tensors={"encoder.embed.weight": np.zeros((10, 4), np.float32)}))
    outcome = sandbox.call(lipread.load_model, path, backend="torch")
    expect(outcome, CheckpointError, "missing tensor|unexpected tensor", path)


# --------------------------------------------------------------------------------------------------
# Log-probabilities
# --------------------------------------------------------------------------------------------------


def _logprobs(frames: int = 6, classes: int = 5, batch: int | None = None) -> np.ndarray:
    shape = (frames, classes) if batch is None else (batch, frames, classes)
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def _with(value: float, where: tuple[int, ...], batch: int | None = None) -> np.ndarray:
    lp = _logprobs(batch=batch)
    lp[where] = value
    return lp


def _dead_frame() -> np.ndarray:
    lp = _logprobs()
    lp[3] = -np.inf
    return lp


DECODING_CASES: dict[str, tuple[Callable[..., Any], Callable[[], np.ndarray], dict[str, Any], str]] = {
    "greedy-nan": (greedy_decode, lambda: _with(np.nan, (2, 1)), {}, "contain NaN"),
    "beam-nan": (beam_search, lambda: _with(np.nan, (0, 0)), {}, "contain NaN"),
    "greedy-batch-nan": (greedy_decode_batch, lambda: _with(np.nan, (1, 5, 4), batch=2), {}, "NaN"),
    "beam-batch-nan": (beam_search_batch, lambda: _with(np.nan, (1, 0, 2), batch=2), {}, "NaN"),
    "beam-plus-inf": (beam_search, lambda: _with(np.inf, (4, 2)), {}, r"\+inf"),
    "greedy-dead-frame": (greedy_decode, _dead_frame, {}, "frame 3 has no finite log-probability"),
    "beam-wrong-rank": (beam_search, lambda: _logprobs()[0], {}, "must be 2-D"),
    "greedy-wrong-vocabulary": (greedy_decode, _logprobs, {"vocabulary": LIPNET_VOCABULARY}, "28"),
}
"""Bad log-probabilities -> (decoder, makes the array, options, pattern of its DecodingError)."""


@pytest.mark.parametrize("name", DECODING_CASES)
def test_bad_logprobs(name: str, sandbox: Sandbox) -> None:
    decode, make, options, problem = DECODING_CASES[name]
    expect(sandbox.call(decode, make(), **options), DecodingError, problem, None)


def test_model_giving_nan_names_the_clip_and_the_model(sandbox: Sandbox, grid_clip: Path, tmp_path: Path) -> None:
    _needs_onnx()
    import onnx
    from onnx import numpy_helper
    from tiny_onnx import tiny_model

    proto = tiny_model()
    for i, init in enumerate(proto.graph.initializer):
        if init.name == "bias":
            proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(np.full(28, np.nan, np.float32), "bias"))
    path = tmp_path / "nan.onnx"
    onnx.save(proto, str(path))
    outcome = sandbox.call(_transcribe, grid_clip, path)
    expect(outcome, DecodingError, r"model '.*nan\.onnx' gave log-probabilities containing NaN", grid_clip)


# --------------------------------------------------------------------------------------------------
# Odd but readable: the decided behaviour
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_frames(grid_clip: Path) -> np.ndarray:
    return read_frames(grid_clip)


def _mjpeg(path: Path, frames: np.ndarray, fps: float) -> Path:
    """Motion JPEG: every frame compressed on its own, so equal frames decode equal at any frame rate."""
    return write_video(path, frames, fps, fourcc="MJPG")


@pytest.mark.parametrize("fps", [60.0, 50.0])
def test_fast_clip_is_resampled_to_25_fps(tiny: Path, grid_frames: np.ndarray, tmp_path: Path, fps: float) -> None:
    """A clip at more than 25 fps, made from a 25 fps one, reads exactly as that one: same text, same times."""
    n = round(len(grid_frames) * fps / 25)
    shown = [int(i * 25 / fps) for i in range(n)]  # the 25 fps frame on screen at each fast frame's start
    fast = _mjpeg(tmp_path / "fast.avi", grid_frames[shown], fps)
    normal = _mjpeg(tmp_path / "normal.avi", grid_frames, 25.0)
    runner = api.Transcriber(tiny, decoder="greedy", threads=1)
    assert runner.prepare(fast).frames.shape[0] == len(grid_frames)  # type: ignore[union-attr]
    a, b = runner.transcribe(fast), runner.transcribe(normal)
    assert isinstance(a, lipread.Transcript) and isinstance(b, lipread.Transcript)
    assert a.text == b.text and a.confidence == pytest.approx(b.confidence)
    assert [(w.word, w.start, w.end) for w in a.words] == [(w.word, w.start, w.end) for w in b.words]


def test_slow_clip_repeats_frames_and_keeps_its_clock(tiny: Path, grid_frames: np.ndarray, tmp_path: Path) -> None:
    """A 5 fps clip is read as 25 fps with every frame shown five times; word times stay in its seconds."""
    slow = _mjpeg(tmp_path / "slow.avi", grid_frames[::5], 5.0)
    decoded = read_frames(slow)
    runner = api.Transcriber(tiny, decoder="greedy", threads=1)
    prepared = runner.prepare(slow)
    assert prepared.fps == 25.0 and prepared.frames is not None and prepared.frames.shape[0] == 5 * len(decoded)
    a = runner.transcribe(slow)
    b = runner.transcribe(np.repeat(decoded, 5, axis=0), fps=25.0)
    assert isinstance(a, lipread.Transcript) and isinstance(b, lipread.Transcript)
    assert a.text == b.text
    assert [(w.start, w.end) for w in a.words] == [(w.start, w.end) for w in b.words]
    assert all(w.end <= len(decoded) / 5.0 for w in a.words)


@pytest.mark.parametrize(
    ("fps", "frames", "expected"),
    [(25.0, 7, 7), (60.0, 180, 75), (29.97, 90, 75), (5.0, 15, 75), (12.5, 3, 6), (50.0, 1, 0)],
)
def test_resample_counts(fps: float, frames: int, expected: int) -> None:
    source = [np.full((2, 2, 3), i, np.uint8) for i in range(frames)]
    out = [int(f[0, 0, 0]) for f in api.resample(source, fps)]
    assert len(out) == expected
    assert out == [int((k + 0.5) * fps / 25) for k in range(expected)]


@pytest.mark.parametrize("fps", [0.0, 1e-4, -25.0, float("nan"), float("inf")])
def test_resample_refuses_rates_it_cannot_keep_up_with(fps: float) -> None:
    with pytest.raises(ValueError, match=r"fps must be at least 0\.001"):
        next(api.resample(iter([np.zeros((2, 2, 3), np.uint8)]), fps))


@pytest.mark.parametrize(("fraction", "frames"), [(0.10, 9), (0.50, 38)])
def test_truncated_mpg_reads_as_the_shorter_clip_it_is(
    tiny: Path, mpg_clip: Path, tmp_path: Path, fraction: float, frames: int
) -> None:
    """An ``.mpg`` declares no frame count, so a cut one that still decodes enough frames is a short clip."""
    path = tmp_path / "cut.mpg"
    data = mpg_clip.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    runner = api.Transcriber(tiny, decoder="greedy", threads=1)
    prepared = runner.prepare(path)
    assert prepared.frames is not None and prepared.frames.shape[0] == frames
    t = runner.run([prepared])[0]
    assert all(0 <= w.start < w.end <= frames / 25.0 for w in t.words)


# --------------------------------------------------------------------------------------------------
# Properties: nothing but the module's own error escapes the parser and the decoders
# --------------------------------------------------------------------------------------------------

_TOKENS = ["0", "100", "23750", "-5", "1.5", "0x10", "1e3", "sil", "sp", "bin", "BLUE", "hello", "\u00e9", "\x00", ""]


@st.composite
def _alignment_like(draw: st.DrawFn) -> str:
    """Text made of alignment-ish tokens, separators and line ends of every kind."""
    lines = draw(st.lists(st.lists(st.sampled_from(_TOKENS), max_size=5), max_size=8))
    sep = draw(st.sampled_from([" ", "\t", "  "]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r", "\x0b", "\u2028"]))
    return end.join(sep.join(line) for line in lines)


@given(text=st.one_of(st.text(), _alignment_like()))
def test_alignment_parser_raises_only_alignment_errors(text: str) -> None:
    try:
        alignment = parse_alignment(text, source="x.align", vocabulary=grid.WORDS)
    except AlignmentError as e:
        assert str(e).startswith("x.align")
    else:
        assert alignment.entries and all(w.word in grid.WORDS or w.word in ("sil", "sp") for w in alignment.entries)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.one_of(st.binary(max_size=200), _alignment_like().map(lambda s: s.encode("utf-8", "replace"))))
def test_alignment_files_raise_only_alignment_errors(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "x.align"
    path.write_bytes(data)
    try:
        load_alignment(path, vocabulary=grid.WORDS)
    except AlignmentError as e:
        assert str(path) in str(e)


_floats = st.floats(allow_nan=True, allow_infinity=True, width=32)
_arrays = hnp.arrays(
    dtype=st.sampled_from([np.float32, np.float64]),
    shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    elements=st.one_of(_floats, st.sampled_from([np.nan, np.inf, -np.inf, 0.0, -1.0])),
)


@settings(max_examples=150, deadline=None)
@given(lp=_arrays, width=st.integers(1, 4))
def test_decoders_raise_only_decoding_errors(lp: np.ndarray, width: int) -> None:
    decoders: list[Callable[[np.ndarray], object]] = [
        greedy_decode,
        lambda a: beam_search(a, beam_width=width),
        greedy_decode_batch,
        lambda a: beam_search_batch(a, beam_width=width),
    ]
    for rank, decode in zip([2, 2, 3, 3], decoders):
        try:
            decode(lp)
        except DecodingError:
            continue
        assert lp.ndim == rank, "a decoder accepted an array of the wrong rank"
        assert not np.isnan(lp).any(), "a decoder accepted NaN"


def test_beam_search_batch_after_a_smaller_search() -> None:
    """A batch needs more trie nodes than a one-frame, one-clip search left in the pool."""
    small = np.log(np.full((1, 1, 28), 1 / 28))
    beam_search_batch(small, beam_width=1)
    batch = _logprobs(frames=75, classes=28, batch=8)
    assert [h[0] for h in beam_search_batch(batch)] == [beam_search(lp)[0] for lp in batch]


def test_sandbox_turns_a_hang_or_a_crash_into_a_failure(sandbox: Sandbox) -> None:
    """The harness itself: a call that never returns, or kills its process, fails the case (last: it restarts)."""
    with pytest.raises(pytest.fail.Exception, match="did not finish within 1 s"):
        sandbox.call(time.sleep, 60, timeout=1)
    with pytest.raises(pytest.fail.Exception, match="crashed the process"):
        sandbox.call(os._exit, 3)
    assert sandbox.call(len, "abc", timeout=120) == Outcome(None, False, "3", "")
