"""lipread.transcribe / load_model / Transcript with a tiny ONNX model built in the test and real GRID clips."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from lipread import api
from lipread.backend import BUILTIN
from lipread.data.grid import is_grid_sentence
from lipread.errors import ArgumentError, BackendError, CheckpointError, DecodingError, VideoError

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model

import lipread
from lipread import models
from lipread.config import LIPNET, get_preset
from lipread.decoding import greedy_decode
from lipread.decoding.viterbi import best_path_spans
from lipread.transcription import loading
from lipread.video.preprocess import load_clip
from lipread.video.reader import read_frames
from lipread.weights import save_checkpoint

SHORT = "lrae3s"  # one of the 74-frame clips


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def clips(grid_root: Path) -> list[Path]:
    paths = [grid_root / "s1" / f"{n}.mp4" for n in ("bbaf2n", SHORT, "bbaf3s")]
    for p in paths:
        if not p.is_file():
            pytest.skip(f"{p} not found")
    return paths


def test_single_path(tiny: Path, grid_clip: Path) -> None:
    t = lipread.transcribe(grid_clip, model=tiny, decoder="grammar")
    assert isinstance(t, lipread.Transcript)
    assert is_grid_sentence(t.text)
    assert t.text == " ".join(w.word for w in t.words)
    assert 0.0 < t.confidence <= 1.0
    assert t.backend == "onnx" and t.model == str(tiny) and t.path == str(grid_clip)
    starts = [w.start for w in t.words]
    assert starts == sorted(starts)
    for a, b in zip(t.words, t.words[1:]):
        assert a.start < a.end <= b.start
    assert t.words[0].start >= 0.0 and t.words[-1].end <= 75 / 25
    assert all(0.0 <= w.confidence <= 1.0 for w in t.words)


def test_to_dict_is_json_ready(tiny: Path, grid_clip: Path) -> None:
    t = lipread.transcribe(grid_clip, model=tiny, decoder="lexicon")
    d = json.loads(json.dumps(t.to_dict()))
    fields = {"path", "text", "confidence", "words", "backend", "model", "decoder", "warnings"}
    assert set(d) == fields | {"domain_score", "in_domain"}
    assert d["domain_score"] is None and d["in_domain"] is None  # the tiny model carries no training statistics
    assert d["decoder"] == "lexicon"
    assert d["text"] == t.text and d["path"] == str(grid_clip)
    assert [w["word"] for w in d["words"]] == t.text.split()
    assert set(d["words"][0]) == {"word", "start", "end", "confidence"}


def test_the_model_names_its_decoder(tmp_path: Path, grid_clip: Path) -> None:
    """A model whose metadata names a decoder is read with it unless the caller chooses another."""
    named = write_tiny_model(tmp_path / "grammar.onnx", config=LIPNET.with_(decoder="grammar"))
    plain = write_tiny_model(tmp_path / "plain.onnx")
    by_default = lipread.transcribe(grid_clip, model=named)
    assert by_default.decoder == "grammar"
    assert by_default.text == lipread.transcribe(grid_clip, model=plain, decoder="grammar").text
    chosen = lipread.transcribe(grid_clip, model=named, decoder="greedy")
    assert chosen.decoder == "greedy"
    assert chosen.text == lipread.transcribe(grid_clip, model=plain, decoder="greedy").text
    assert lipread.transcribe(grid_clip, model=plain).decoder == "beam"


def test_word_times_come_from_the_best_alignment(tiny: Path, grid_clip: Path) -> None:
    runner = api.Transcriber(tiny, decoder="greedy")
    t = runner.transcribe(grid_clip)
    x = load_clip(grid_clip, LIPNET)
    lp = runner.model.logprobs(x[None])[0]
    hyp = greedy_decode(lp, LIPNET.vocabulary)
    assert t.text == " ".join(hyp.words)
    spans = best_path_spans(lp, hyp.tokens)
    assert spans is not None
    space = LIPNET.vocabulary.space_id
    first_word = spans[: hyp.tokens.index(space)] if space in hyp.tokens else spans
    assert t.words[0].start == pytest.approx(first_word[0].start / 25.0)
    assert t.words[0].end == pytest.approx((first_word[-1].end + 1) / 25.0)


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_batches_equal_one_by_one(tiny: Path, clips: list[Path], decoder: str) -> None:
    together = lipread.transcribe(clips, model=tiny, decoder=decoder, batch_size=3)
    alone = [lipread.transcribe(c, model=tiny, decoder=decoder, batch_size=1) for c in clips]
    assert isinstance(together, list) and len(together) == 3
    assert [t.path for t in together] == [str(c) for c in clips]
    for a, b in zip(together, alone):
        assert a.text == b.text
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
        assert [(w.word, w.start, w.end) for w in a.words] == [(w.word, w.start, w.end) for w in b.words]


def test_frames_array_input(tiny: Path, grid_clip: Path) -> None:
    frames = read_frames(grid_clip)
    from_file = lipread.transcribe(grid_clip, model=tiny)
    from_array = lipread.transcribe(frames, model=tiny)
    assert from_array.path is None and from_array.text == from_file.text
    slow = lipread.transcribe(frames, model=tiny, fps=12.5)  # resampled to 25 fps: every frame twice
    doubled = lipread.transcribe(np.repeat(frames, 2, axis=0), model=tiny)
    assert slow.text == doubled.text
    assert [(w.start, w.end) for w in slow.words] == [(w.start, w.end) for w in doubled.words]
    both = lipread.transcribe([frames, frames[:60]], model=tiny)
    assert isinstance(both, list) and both[0].text == from_array.text


def test_loaded_model_can_be_passed(tiny: Path, grid_clip: Path) -> None:
    m = lipread.load_model(tiny)
    assert m.backend == "onnx"
    t = lipread.transcribe(grid_clip, model=m)
    assert t.text == lipread.transcribe(grid_clip, model=tiny).text
    assert t.model == LIPNET.name


def test_user_errors(tiny: Path, tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="not found"):
        lipread.transcribe(tmp_path / "missing.mp4", model=tiny)
    with pytest.raises(VideoError, match="uint8"):
        lipread.transcribe(np.zeros((10, 288, 360), np.uint8), model=tiny)
    with pytest.raises(DecodingError, match="decoder"):
        lipread.transcribe(np.zeros((10, 288, 360, 3), np.uint8), model=tiny, decoder="best")
    with pytest.raises(BackendError, match="torch"):
        lipread.load_model(tiny, backend="torch")
    with pytest.raises(BackendError, match="option"):
        lipread.load_model(tiny, colour="blue")
    with pytest.raises(CheckpointError, match="neither a shipped model"):
        lipread.load_model(tmp_path / "nothing-here")


@pytest.mark.parametrize("fps", [0, -5, float("nan"), float("inf"), True, "25"])
def test_a_frame_rate_that_is_no_positive_number_is_refused(tiny: Path, grid_clip: Path, fps: object) -> None:
    runner = lipread.Transcriber(tiny)
    frames = read_frames(grid_clip)
    for source in (frames, grid_clip, [grid_clip]):
        with pytest.raises(ArgumentError, match="fps must be a positive number of frames per second"):
            runner.transcribe(source, fps=fps)  # type: ignore[arg-type]
    with pytest.raises(ArgumentError, match="fps must be a positive number"):
        runner.stream(iter(frames), fps=fps)  # type: ignore[arg-type]


@pytest.mark.parametrize("start", [-1.0, float("nan"), float("inf"), True, None, "1"])
def test_a_start_that_is_no_time_is_refused(tiny: Path, grid_clip: Path, start: object) -> None:
    with pytest.raises(ArgumentError, match="start must be a time in seconds, 0 or more"):
        lipread.Transcriber(tiny).prepare(grid_clip, start=start)  # type: ignore[arg-type]


def test_odd_inputs_are_named_or_read(tiny: Path, grid_clip: Path) -> None:
    runner = lipread.Transcriber(
        tiny, batch_size=np.int64(2), beam_width=np.int64(4), workers=np.int64(2), threads=np.int32(1)
    )  # type: ignore[arg-type]
    assert runner.batch_size == 2 and runner.workers == 2 and type(runner.workers) is int
    text = runner.transcribe(grid_clip).text
    assert runner.transcribe(bytes(grid_clip)).text == text  # type: ignore[arg-type]
    for odd in (5, None):
        with pytest.raises(VideoError, match="expected a video path"):
            runner.transcribe(odd)  # type: ignore[arg-type]
    with pytest.raises(DecodingError, match="unknown decoder ''"):
        lipread.Transcriber(tiny, decoder="")
    with pytest.raises(DecodingError, match="a list of words, not one string"):
        lipread.Transcriber(tiny, decoder="lexicon", lexicon="bin blue")
    with pytest.raises(ArgumentError, match="settings must be a LiveSettings, not dict"):
        runner.stream(iter(read_frames(grid_clip)), settings={"pause": 0.5})  # type: ignore[arg-type]


@pytest.fixture()
def shipped_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setattr(models, "FOLDER", tmp_path)
    loading._CACHE.clear()
    yield tmp_path
    loading._CACHE.clear()


def test_shipped_model_not_in_this_build(shipped_folder: Path) -> None:
    with pytest.raises(CheckpointError, match="not part of this build") as e:
        lipread.load_model("lipnet-grid-s1")
    assert "lipnet-grid-s1" in str(e.value) and "lipread train" in str(e.value)


def test_shipped_model_file_missing_from_installation(shipped_folder: Path) -> None:
    (shipped_folder / "lipnet-grid-s1.md").write_text("# card")
    with pytest.raises(CheckpointError, match="missing from this installation") as e:
        lipread.load_model("lipnet-grid-s1")
    assert "lipnet-grid-s1.onnx" in str(e.value)


def test_shipped_model_runs_on_onnx(shipped_folder: Path, tiny: Path, grid_clip: Path) -> None:
    (shipped_folder / "lipnet-grid-s1.onnx").write_bytes(tiny.read_bytes())
    t = lipread.transcribe(grid_clip)
    assert t.model == "lipnet-grid-s1" and t.backend == "onnx"


def _only_onnx(monkeypatch: pytest.MonkeyPatch) -> None:
    import lipread.backend as registry

    real = registry._module_exists
    monkeypatch.setattr(
        registry, "_module_exists", lambda name: False if name in ("torch", "tensorflow") else real(name)
    )
    assert not BUILTIN["torch"].installed and BUILTIN["onnx"].installed


def test_checkpoint_with_only_onnx_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _only_onnx(monkeypatch)
    ckpt = save_checkpoint(tmp_path / "m.safetensors", {"w": np.zeros(3, np.float32)}, LIPNET)
    with pytest.raises(BackendError, match="torch or tensorflow") as e:
        lipread.load_model(ckpt)
    assert ".onnx" in str(e.value) and str(ckpt) in str(e.value)
    with pytest.raises(BackendError, match="export"):
        lipread.load_model(ckpt, backend="onnx")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError):
        lipread.load_model(tmp_path / "junk.safetensors")


def test_shipped_checkpoint_only_with_only_onnx_installed(
    monkeypatch: pytest.MonkeyPatch, shipped_folder: Path
) -> None:
    _only_onnx(monkeypatch)
    save_checkpoint(shipped_folder / "lipnet-grid-s1.safetensors", {"w": np.zeros(3, np.float32)}, LIPNET)
    with pytest.raises(CheckpointError, match=r"lipnet-grid-s1\.onnx"):
        lipread.load_model()


def test_import_stays_framework_free() -> None:
    code = (
        "import sys, lipread; lipread.transcribe; lipread.load_model; "
        "print(sorted(m for m in ('torch', 'tensorflow', 'onnxruntime') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.torch
def test_checkpoint_runs_on_torch(tmp_path: Path, grid_clip: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("lipread_torch")
    from lipread.backend import get_backend

    torch_backend = get_backend("torch")
    small = LIPNET.with_(name="small", rnn_hidden=8)
    ckpt = torch_backend.save(torch_backend.build(small, seed=0), tmp_path / "small.safetensors")
    t = lipread.transcribe(grid_clip, model=ckpt, decoder="grammar")
    assert t.backend == "torch" and t.model == str(ckpt) and is_grid_sentence(t.text)
    with pytest.raises(BackendError, match="threads"):
        lipread.load_model(ckpt, threads=2)


def test_transcribe_reads_a_grey_model_as_training_does(tmp_path: Path, grid_clip: Path, mpg_clip: Path) -> None:
    """``transcribe`` (streaming frames) and ``load_clip`` / the training cache feed a grey model the same input."""
    config = get_preset("lipnet-notebook")
    runner = api.Transcriber(write_tiny_model(tmp_path / "grey.onnx", config=config), decoder="greedy", threads=1)
    for path in (grid_clip, mpg_clip):
        prepared = runner.prepare(path).frames
        assert prepared is not None
        np.testing.assert_array_equal(prepared, load_clip(path, config))


def test_a_path_no_file_can_have_is_a_video_error(tiny: Path, grid_clip: Path, tmp_path: Path) -> None:
    """A file's contents where its name belongs, an empty name (the current folder), one too long for the file
    system: each a VideoError naming what was given, as a missing file is."""
    runner = lipread.Transcriber(tiny)
    for given, told in (
        (grid_clip.read_bytes(), "not a path (no file name holds a NUL byte)"),
        ("a\x00b.mp4", "'a\\x00b.mp4': not a path"),
        ("", "an empty path"),
        (b"", "an empty path"),
        (str(tmp_path / ("a" * 300 + ".mp4")), "name is too long for this file system"),
    ):
        with pytest.raises(VideoError, match=re.escape(told)):
            runner.transcribe(given)  # type: ignore[arg-type]
    with pytest.raises(CheckpointError, match="cannot be a model file"):
        lipread.Transcriber(str(tmp_path / ("a" * 300 + ".onnx")))
    with pytest.raises(DecodingError, match="no file name holds a NUL byte"):
        lipread.Transcriber(tiny, lexicon=Path("a\x00b"))
    with pytest.raises(BackendError, match=re.escape("unknown device ['cpu']")):
        lipread.Transcriber(tiny, device=["cpu"])  # not a key of the model cache: load_model says what is wrong


def test_the_model_cache_serves_threads_one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Threads that ask for models in turn (each a key of its own, more of them than the cache holds) never find
    the cache half changed by another."""

    def load(model: str, backend: str | None, **opts: object) -> object:
        time.sleep(0.0002)  # a load lets the other threads run
        return object()

    monkeypatch.setattr(loading, "load_model", load)
    monkeypatch.setattr(loading, "_CACHE", type(loading._CACHE)())
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def ask(k: int) -> None:
        start.wait()
        try:
            for _ in range(4000):
                loading._cached_model("lipnet-grid-s1", None, {"threads": k})
        except Exception as e:  # any, so that the test sees it
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=ask, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == [] and len(loading._CACHE) <= loading._CACHE_SIZE


def test_stream_refuses_what_is_no_iterable_of_frames_at_once(tiny: Path) -> None:
    runner = lipread.Transcriber(tiny)
    for odd in (5, "talk.mp4", Path("talk.mp4")):  # raised by the call, not by the first next()
        with pytest.raises(ArgumentError, match=r"frames must be an iterable of uint8 \(H, W, 3\) frames, not a "):
            runner.stream(odd, 25.0)  # type: ignore[arg-type]
