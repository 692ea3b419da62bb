"""Nothing a user does ends in a traceback, a hang, a runaway allocation or lost work.

- Model files that are valid containers but impossible models (sizes of zero, a 400,000-unit recurrent layer,
  integer or boolean weights) are refused with a CheckpointError naming the file, the field and its limit,
  before any backend builds anything; random bytes and random JSON in a checkpoint's header or an ONNX
  model's metadata give a CheckpointError, never another exception.
- Results that cannot be written (a path under a file, a folder, no permission, a full disk) end in one line
  naming the path, and leave no temporary file; a crop cache that cannot be written only warns.
- Numbers at the boundary (a batch size of 0, a beam width of 10**9, 10,000 threads, a huge GIF scale) are
  refused where they enter, or sized by what can be used.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lipread import cli
from lipread.config import LIMITS, LIPNET, MAX_BEAM_WIDTH, ConvBlock, ModelConfig
from lipread.data.dataset import Clip, CropCache
from lipread.data.training import TrainOptions
from lipread.decoding import beam, beam_search, beam_search_batch
from lipread.decoding.decoders import make_decoder
from lipread.errors import ArgumentError, CheckpointError, DataError, DecodingError, LipreadError
from lipread.report import PREFIX
from lipread.weights import atomic_write, load_checkpoint, read_metadata, save_checkpoint, writable_folder

SMALL = LIPNET.with_(rnn_hidden=8)


def _tensors() -> dict[str, np.ndarray]:
    return {"classifier.bias": np.zeros(28, np.float32)}


# --------------------------------------------------------------------------------------------------
# Impossible models
# --------------------------------------------------------------------------------------------------

BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"rnn_hidden": 0}, r"rnn_hidden is 0; it must be from 1 to 4096"),
    ({"rnn_hidden": -3}, r"rnn_hidden is -3; it must be from 1 to 4096"),
    ({"rnn_hidden": 400_000}, r"rnn_hidden is 400000; it must be from 1 to 4096"),
    ({"rnn_hidden": True}, r"rnn_hidden must be a whole number from 1 to 4096, not True"),
    ({"rnn_layers": 0}, r"rnn_layers is 0; it must be from 1 to 16"),
    ({"height": 0}, r"height is 0; it must be from 1 to 1024"),
    ({"channels": 7}, r"channels is 7; it must be from 1 to 4"),
    ({"frontend": (ConvBlock(0, (3, 5, 5)),)}, r"frontend\[0\]\.channels is 0; it must be from 1 to 2048"),
    ({"frontend": (ConvBlock(5000, (3, 5, 5)),)}, r"frontend\[0\]\.channels is 5000; it must be from 1 to 2048"),
    ({"frontend": (ConvBlock(8, (3, 99, 5)),)}, r"frontend\[0\]\.kernel \(height\) is 99; it must be from 1 to 15"),
    ({"frontend": (ConvBlock(8, (3, 5, 5), pool=(1, 0, 2)),)}, r"frontend\[0\]\.pool \(height\) is 0"),
    ({"frontend": (ConvBlock(8, (3, 5, 5), dropout=1.5),)}, r"frontend\[0\]\.dropout is 1\.5"),
    ({"frontend": ()}, r"frontend must have 1 to 16 convolution blocks"),
    (
        {"frontend": (ConvBlock(8, (3, 5, 5), pool=(2, 2, 2)),)},
        r"frontend\[0\] must keep the number of frames .* pool 2",
    ),
    (
        {"frontend": (ConvBlock(8, (4, 5, 5), padding=(2, 1, 1)),)},
        r"frontend\[0\] must keep the number of frames .* got kernel 4",
    ),
    (
        {"frontend": (ConvBlock(8, (3, 5, 5), padding=(0, 1, 1)),)},
        r"frontend\[0\] must keep the number of frames .* padding 0",
    ),
    (
        {"frontend": (ConvBlock(8, (3, 5, 5), stride=(2, 1, 1)),)},
        r"frontend\[0\] must keep the number of frames .* stride 2",
    ),
    (
        {"frontend": (ConvBlock(8, (3, 5, 5), batchnorm="no"),)},
        r"frontend\[0\]\.batchnorm must be true or false, not 'no'",
    ),  # type: ignore[arg-type]
    ({"batchnorm_eps": True}, r"batchnorm_eps is True"),
    ({"rnn_dropout": -0.1}, r"rnn_dropout is -0\.1"),
    ({"batchnorm_eps": 0.0}, r"batchnorm_eps is 0\.0"),
    ({"height": 4, "width": 4}, r"the convolutions leave no pixels of a 4x4 input"),
    ({"rnn_hidden": 4096, "rnn_layers": 16}, r"the parameter count is \d+; it must be from 1 to 200000000"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_CONFIGS)
def test_an_impossible_config_is_refused_before_anything_is_built(
    tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    bad = SMALL.with_(**changes)
    with pytest.raises(ValueError, match=message):
        bad.validate()
    with pytest.raises(ValueError, match=message):
        ModelConfig.loads(bad.dumps())
    path = save_checkpoint(tmp_path / "bad.safetensors", _tensors(), bad)
    for read in (read_metadata, load_checkpoint):
        with pytest.raises(CheckpointError, match=rf"bad\.safetensors: invalid model config in metadata: {message}"):
            read(path)


def test_the_onnx_metadata_config_is_validated_too() -> None:
    from lipread.onnx.metadata import metadata_props, parse_metadata

    props = metadata_props(SMALL.with_(rnn_hidden=400_000))
    with pytest.raises(CheckpointError, match=r"m\.onnx: invalid lipread metadata .*rnn_hidden is 400000; .* to 4096"):
        parse_metadata(props, "m.onnx")


def test_the_presets_are_valid() -> None:
    from lipread.config import PRESETS

    for config in PRESETS.values():
        config.validate()
        assert ModelConfig.loads(config.dumps()) == config
    assert SMALL.parameter_count() < LIMITS["parameters"]


@pytest.mark.parametrize(
    ("array", "shown"),
    [
        (np.ones(28, np.int32), "int32"),
        (np.ones(28, bool), "bool"),
        (np.ones(28, np.int16), "int16 without scales"),
        (np.ones(28, np.uint8), "uint8"),
    ],
)
def test_weights_that_are_not_floating_point_are_refused(tmp_path: Path, array: np.ndarray, shown: str) -> None:
    tensors = {**_tensors(), "classifier.bias": array}
    path = save_checkpoint(tmp_path / "int.safetensors", tensors, SMALL)
    with pytest.raises(CheckpointError, match=rf"int\.safetensors: tensor 'classifier\.bias' is stored as {shown};"):
        load_checkpoint(path)


def test_float_weights_fixed_point_and_batchnorm_counters_are_accepted(tmp_path: Path) -> None:
    tensors = {
        "classifier.bias": np.ones(28, np.float64),
        "classifier.weight": np.ones((28, 16), np.float16),
        "rnn.0.forward.weight_hh_l0": np.ones((24, 8), np.float32),
        "frontend.0.bn.num_batches_tracked": np.array(3, np.int64),
    }
    path = save_checkpoint(tmp_path / "ok.safetensors", tensors, SMALL, fixed16=["rnn.0.forward.weight_hh_l0"])
    loaded = load_checkpoint(path).tensors
    assert loaded["rnn.0.forward.weight_hh_l0"].dtype == np.float32
    assert loaded["frontend.0.bn.num_batches_tracked"] == 3


# --- property tests: outside data never raises anything but CheckpointError / ValueError ------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _config_like() -> st.SearchStrategy[Any]:
    """Valid config JSON with one field replaced by random JSON, or random JSON outright."""
    base = SMALL.to_json()
    keys = [*sorted(base), "frontend.0.kernel", "frontend.0.channels", "vocabulary.characters"]

    def mutate(key: str, value: Any) -> Any:
        d = json.loads(json.dumps(base))
        if key.startswith("frontend."):
            d["frontend"][0][key.split(".")[2]] = value
        elif key == "vocabulary.characters":
            d["vocabulary"]["characters"] = value
        else:
            d[key] = value
        return d

    return st.builds(mutate, st.sampled_from(keys), JSON) | JSON


@settings(max_examples=150, deadline=None)
@given(_config_like())
def test_model_config_from_random_json_is_a_value_error(data: Any) -> None:
    with contextlib.suppress(ValueError):
        ModelConfig.from_json(data)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["config", "trained_on", "metrics", "version"]), JSON | _config_like()))
def test_onnx_metadata_from_random_json_is_a_checkpoint_error(fields: dict[str, Any]) -> None:
    from lipread.onnx.metadata import parse_metadata

    props = {f"lipread_{k}": v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
    props["lipread_format"] = "lipread"
    try:
        parse_metadata(props, "m.onnx")
    except CheckpointError as e:
        assert str(e).startswith("m.onnx: ")


def _safetensors(header: Any, body: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + body


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64) | st.builds(_safetensors, JSON, st.binary(max_size=32)))
def test_random_bytes_and_headers_are_a_checkpoint_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "random.safetensors"
    path.write_bytes(data)
    with pytest.raises(CheckpointError, match=r"random\.safetensors"):
        load_checkpoint(path)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(st.sampled_from(["format", "version", "config", "trained_on", "metrics"]), JSON | _config_like()),
    st.sampled_from(["F32", "I32", "BOOL", "BF16", "I16", 7, None]),
    JSON,
)
def test_random_metadata_and_tensor_entries_are_a_checkpoint_error(
    tmp_path: Path, meta: dict[str, Any], dtype: Any, offsets: Any
) -> None:
    meta = {"format": "lipread", "version": "1", "config": SMALL.dumps(), **meta}
    meta = {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}
    header = {"__metadata__": meta, "w": {"dtype": dtype, "shape": [2], "data_offsets": offsets}}
    path = tmp_path / "random.safetensors"
    path.write_bytes(_safetensors(header, b"\0" * 16))
    try:
        load_checkpoint(path)
    except CheckpointError as e:
        assert str(e).startswith(f"{path}: ")


# --------------------------------------------------------------------------------------------------
# Numbers at the boundary
# --------------------------------------------------------------------------------------------------


@pytest.fixture()
def numpy_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the NumPy beam search even where numba is installed."""
    monkeypatch.setattr(beam, "_KERNEL", [None])


def _peak(call: Any) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.usefixtures("numpy_search")
@pytest.mark.parametrize("constraint", [False, True])
def test_a_huge_beam_width_allocates_only_what_the_search_can_use(constraint: bool) -> None:
    rng = np.random.default_rng(0)
    lp = np.log(rng.dirichlet(np.ones(4), size=5)).astype(np.float32)  # T = 5, V = 4: at most 4**5 prefixes
    kw: dict[str, Any] = {"prune": -50.0} if constraint else {}
    enough = 4**5
    huge, peak = _peak(lambda: beam_search(lp, 10**9, **kw))
    assert peak < 4 << 20, peak
    assert [(h.tokens, round(h.score, 9)) for h in huge] == [
        (h.tokens, round(h.score, 9)) for h in beam_search(lp, enough, **kw)
    ]
    batch = np.stack([lp, lp[::-1]])
    huge_batch, peak = _peak(lambda: beam_search_batch(batch, [5, 3], 10**9, **kw))
    assert peak < 4 << 20, peak
    exact = beam_search_batch(batch, [5, 3], enough, **kw)
    assert [[h.tokens for h in hs] for hs in huge_batch] == [[h.tokens for h in hs] for hs in exact]


def test_a_decoder_wider_than_the_limit_is_refused() -> None:
    with pytest.raises(DecodingError, match=rf"beam width 1000000000 is more than {MAX_BEAM_WIDTH}"):
        make_decoder("beam", LIPNET.vocabulary, 10**9)
    assert make_decoder("beam", LIPNET.vocabulary, MAX_BEAM_WIDTH).beam_width == MAX_BEAM_WIDTH


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.5])
def test_a_bad_batch_size_is_a_lipread_error(batch_size: Any) -> None:
    import lipread

    with pytest.raises(ArgumentError, match="batch_size must be a positive integer") as e:
        lipread.transcribe("no-such-clip.mp4", batch_size=batch_size)
    assert isinstance(e.value, LipreadError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number >= 1, not 0"),
        ({"workers": -1}, "workers must be a whole number >= 0, not -1"),
        ({"beam_width": 10**9}, f"beam_width is 1000000000; it must be at most {MAX_BEAM_WIDTH}"),
    ],
)
def test_bad_training_numbers_are_a_data_error(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    with pytest.raises(DataError, match=message):
        TrainOptions(data=tmp_path, output=tmp_path / "run", **changes)


def test_training_threads_are_capped_at_the_cores(tmp_path: Path) -> None:
    cores = os.cpu_count() or 1
    assert TrainOptions(data=tmp_path, output=tmp_path, workers=10_000).threads == cores
    assert TrainOptions(data=tmp_path, output=tmp_path, workers=0).threads == cores
    assert TrainOptions(data=tmp_path, output=tmp_path, workers=1).threads == 1


def test_onnx_threads_are_capped_at_the_cores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from tiny_onnx import write_tiny_model

    from lipread.onnx import runtime

    seen: list[int] = []
    real = runtime.ort.InferenceSession

    def session(path: str, sess_options: Any, providers: Any) -> Any:
        seen.append(sess_options.intra_op_num_threads)
        return real(path, sess_options=sess_options, providers=providers)

    monkeypatch.setattr(runtime.ort, "InferenceSession", session)
    runtime.OnnxBackend().load(write_tiny_model(tmp_path / "t.onnx"), threads=10_000, device="cpu")
    assert seen == [os.cpu_count() or 1]


def test_a_gif_refuses_a_huge_scale_before_enlarging_anything() -> None:
    from lipread.video.gif import encode_gif

    with pytest.raises(ValueError, match="frames of 400000x400000 pixels cannot be stored in a GIF"):
        encode_gif(np.zeros((2, 4, 4, 1), np.uint8), scale=100_000)


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        status = cli.main([str(a) for a in argv])
    except SystemExit as e:
        status = int(e.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def _one_error_line(err: str, path: object = None) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, lines
    assert lines[0].startswith(PREFIX + (f"{path}: " if path is not None else "")), lines
    return lines[0]


def _no_temporaries(folder: Path) -> None:
    left = [p for p in folder.rglob("*") if ".tmp" in p.name or "write-test" in p.name]
    assert left == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["transcribe", "clip.mp4", "--beam-width", "1000000000"], "argument --beam-width: must be at most 1000 "),
        (["eval", "grid", "--beam-width", "1000000000"], "argument --beam-width: must be at most 1000 "),
        (["train", "grid", "-o", "run", "--beam-width", "1000000000"], "argument --beam-width: must be at most 1000 "),
        (["preview", "clip.mp4", "-o", "x.gif", "--scale", "100000"], "argument --scale: must be at most 10"),
        (["transcribe", "clip.mp4", "--batch-size", "0"], "argument --batch-size: must be positive, not 0"),
        (["train", "grid", "-o", "run", "--batch-size", "0"], "argument --batch-size: must be positive, not 0"),
    ],
)
def test_numbers_out_of_range_are_usage_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    status, out, err = _run(capsys, *argv)
    assert (status, out) == (2, "")
    assert message in _one_error_line(err)


def _under_a_file(tmp_path: Path, name: str) -> Path:
    (tmp_path / "file").write_text("a file\n")
    return tmp_path / "file" / name


@pytest.mark.parametrize("failure", [errno.ENOSPC, errno.EACCES])
def test_a_failing_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: int
) -> None:
    def fail(fd: int) -> None:
        raise OSError(failure, os.strerror(failure))

    monkeypatch.setattr(os, "fsync", fail)
    target = tmp_path / "out" / "best.safetensors"
    with pytest.raises(OSError) as e:
        save_checkpoint(target, _tensors(), SMALL)
    assert e.value.filename == str(target) and e.value.errno == failure
    assert ("no space left" if failure == errno.ENOSPC else "no permission to write in") in e.value.strerror
    _no_temporaries(tmp_path)
    assert not target.exists()


def test_writable_folder_names_the_file_in_the_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = _under_a_file(tmp_path, "run")
    with pytest.raises(OSError, match=r"file is a file, not a folder") as e:
        writable_folder(target)
    assert e.value.filename == str(target)
    with pytest.raises(OSError, match="is a file, not a folder"):
        writable_folder(tmp_path / "file")
    with pytest.raises(OSError, match="is a folder; name a file"):
        atomic_write(tmp_path, b"x")
    real_open = open

    def read_only(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", read_only)
    with pytest.raises(PermissionError, match=r"no permission to write in .*ro"):
        writable_folder(tmp_path / "ro")
    monkeypatch.undo()
    _no_temporaries(tmp_path)


@pytest.mark.parametrize("where", ["under a file", "a folder", "full disk", "read-only"])
def test_preview_output_failures(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, grid_clip: Path, tmp_path: Path, where: str
) -> None:
    target = tmp_path / "out.gif"
    if where == "under a file":
        target = _under_a_file(tmp_path, "out.gif")
    elif where == "a folder":
        target.mkdir()
    else:
        code = errno.ENOSPC if where == "full disk" else errno.EACCES

        def fail(fd: int) -> None:
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(os, "fsync", fail)
    status, out, err = _run(capsys, "preview", grid_clip, "-o", target, "--preset", "lipnet-notebook")
    assert (status, out) == (1, "")
    line = _one_error_line(err, target)
    assert "cannot write the GIF" in line
    _no_temporaries(tmp_path)


def test_subtitles_to_an_output_dir_under_a_file(
    capsys: pytest.CaptureFixture[str], grid_clip: Path, tmp_path: Path
) -> None:
    out_dir = _under_a_file(tmp_path, "subs")
    status, out, err = _run(capsys, "transcribe", grid_clip, "--format", "srt", "--output-dir", out_dir)
    assert (status, out) == (1, "")
    assert "file is a file, not a folder" in _one_error_line(err, out_dir)


def test_train_output_under_a_file_stops_before_decoding(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    (tmp_path / "data").mkdir()
    for output in (_under_a_file(tmp_path, "run"), tmp_path / "file"):
        status, out, err = _run(capsys, "train", tmp_path / "data", "-o", output, "--backend", "torch")
        assert (status, out) == (1, "")
        assert "is a file, not a folder" in _one_error_line(err, output)
    _no_temporaries(tmp_path)


def test_export_output_under_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from lipread_torch import backend

    cfg = SMALL.with_(frontend=tuple(ConvBlock(4, b.kernel, b.stride, b.padding, b.batchnorm) for b in SMALL.frontend))
    ckpt = save_checkpoint(tmp_path / "m.safetensors", backend.build(cfg, seed=0).state_dict(), cfg)
    for output in (_under_a_file(tmp_path, "m.onnx"), tmp_path):
        status, out, err = _run(capsys, "export", ckpt, "-o", output, "--backend", "torch")
        assert (status, out) == (1, "")
        _one_error_line(err, output)
    _no_temporaries(tmp_path)


# --------------------------------------------------------------------------------------------------
# The crop cache
# --------------------------------------------------------------------------------------------------


def test_a_crop_cache_that_cannot_be_written_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lipread.data import dataset

    crops = np.zeros((3, 50, 100, 3), np.uint8)
    monkeypatch.setattr(dataset, "load_crops", lambda *args: crops)

    def short_write(*args: Any, **kwargs: Any) -> None:
        raise OSError("1125000 requested and 970624 written")

    monkeypatch.setattr(dataset.np, "save", short_write)
    cache = CropCache(tmp_path / "cache", LIPNET)
    clips = [Clip(tmp_path / f"{name}.mpg", "bin blue") for name in ("a", "b", "c")]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        good, bad = cache.fill(clips, workers=2)
        assert cache.get(clips[0]) is crops
    assert (len(good), bad) == (3, [])
    assert [str(w.message) for w in caught if "crop cache" in str(w.message)] == [
        f"{cache.folder}: cannot write the crop cache (1125000 requested and 970624 written); going on without it "
        "(clips are decoded each time they are needed)"
    ]
    assert not cache.writable
    assert list(cache.folder.iterdir()) == []


def test_a_crop_cache_folder_that_cannot_be_made_only_warns(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file\n")
    with pytest.warns(RuntimeWarning, match="cannot write the crop cache"):
        cache = CropCache(tmp_path / "file" / "cache", LIPNET)
    assert not cache.writable
