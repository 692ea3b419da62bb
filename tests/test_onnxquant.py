"""int8 quantisation of exported models (:mod:`lipread.onnx.quantize`, ``lipread export --quantize int8``).

The quantised model must run in the ONNX backend with its metadata intact and give log-probabilities close
to the float32 model's: on the framework-free tiny model, and on a small LipNet exported from PyTorch when
PyTorch is installed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

import onnx
from tiny_onnx import write_tiny_model

from lipread.backend import get_backend
from lipread.cli import main
from lipread.config import LIPNET, ConvBlock, ModelConfig
from lipread.errors import BackendError
from lipread.onnx.quantize import MIN_INT8_CHANNELS, quantize_int8

SMALL = LIPNET.with_(
    name="lipnet-small",
    height=24,
    width=32,
    frontend=(
        ConvBlock(8, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True, dropout=0.5),
        ConvBlock(16, (3, 3, 3), padding=(1, 1, 1), batchnorm=True, dropout=0.5),
    ),
    rnn_hidden=32,
)
"""A LipNet small enough to export and quantise in a second."""


def _clips(config: ModelConfig, n: int, frames: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (frames, config.height, config.width, config.channels)
    return [rng.standard_normal(shape).astype(np.float32) for _ in range(n)]


def _ops(path: Path) -> set[str]:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def _compare(fp32: Path, int8: Path, config: ModelConfig) -> tuple[float, float]:
    """(largest |difference| of the probabilities, share of frames with the same most likely class)."""
    onnx_backend = get_backend("onnx")
    a, b = onnx_backend.load(fp32, threads=1), onnx_backend.load(int8, threads=1)  # type: ignore[call-arg]
    assert b.config == a.config == config
    x = np.stack(_clips(config, 2, 20, seed=99))
    lengths = np.array([20, 13], np.int32)
    pa, pb = np.exp(a.logprobs(x, lengths)), np.exp(b.logprobs(x, lengths))
    pa[1, 13:] = pb[1, 13:] = 0  # frames past the length are unspecified
    return float(np.abs(pa - pb).max()), float((pa.argmax(-1) == pb.argmax(-1)).mean())


def test_dynamic_quantisation_of_the_tiny_model(tmp_path: Path) -> None:
    fp32 = write_tiny_model(tmp_path / "tiny.onnx")
    int8 = quantize_int8(fp32, tmp_path / "tiny-int8.onnx")
    assert int8 == tmp_path / "tiny-int8.onnx"
    assert "MatMul" in _ops(fp32) and "MatMul" not in _ops(int8)
    assert _ops(int8) & {"MatMulInteger", "DynamicQuantizeMatMul"}
    diff, same = _compare(fp32, int8, LIPNET)
    assert diff < 0.05 and same >= 0.9
    assert get_backend("onnx").load(int8).trained_on == {"data": "none"}  # the metadata is kept


def test_static_quantisation_of_the_tiny_model_in_place(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "tiny.onnx")
    reference = tmp_path / "reference.onnx"
    reference.write_bytes(path.read_bytes())
    quantize_int8(path, path, calibration=_clips(LIPNET, 3, 12, seed=1))
    assert "QuantizeLinear" in _ops(path) and "DequantizeLinear" in _ops(path)
    diff, same = _compare(reference, path, LIPNET)
    assert diff < 0.1 and same >= 0.9


@pytest.mark.parametrize("content", [b"", b"not a model"], ids=["empty", "junk"])
def test_not_an_onnx_model_raises_backend_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(BackendError, match=r"bad\.onnx: ONNX Runtime could not quantise"):
        quantize_int8(bad, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


@pytest.fixture(scope="module")
def lipnet_onnx(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small random-init LipNet: its checkpoint and its float32 ONNX export."""
    pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("lipnet")
    torch_backend = get_backend("torch")
    model = torch_backend.build(SMALL, seed=0)
    ckpt = torch_backend.save(model, folder / "small.safetensors", trained_on={"data": "none"})
    return ckpt, torch_backend.export_onnx(model, folder / "small.onnx")


def _conv_inputs_quantised(path: Path) -> list[bool]:
    """For each Conv node in order: whether its data and weight inputs come out of DequantizeLinear (int8)."""
    nodes = onnx.load(str(path)).graph.node
    quantised = {n.output[0] for n in nodes if n.op_type == "DequantizeLinear"}
    return [set(n.input[:2]) <= quantised for n in nodes if n.op_type == "Conv"]


def test_static_quantisation_of_an_exported_lipnet(lipnet_onnx: tuple[Path, Path], tmp_path: Path) -> None:
    _, fp32 = lipnet_onnx
    int8 = quantize_int8(fp32, tmp_path / "int8.onnx", calibration=_clips(SMALL, 4, 20, seed=2))
    # Both convolutions get int8 inputs and weights: the first one, per frame, sees 3 frames x 3 colours.
    assert _conv_inputs_quantised(int8) == [True, True]
    diff, same = _compare(fp32, int8, SMALL)
    assert diff < 0.05 and same >= 0.9


def test_a_convolution_with_few_input_channels_stays_float32(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    grey = SMALL.with_(name="lipnet-small-grey", channels=1)
    torch_backend = get_backend("torch")
    fp32 = torch_backend.export_onnx(torch_backend.build(grey, seed=0), tmp_path / "grey.onnx")
    int8 = quantize_int8(fp32, tmp_path / "int8.onnx", calibration=_clips(grey, 4, 20, seed=2))
    # Per frame, the first convolution sees 3 frames x 1 grey channel: fewer than MIN_INT8_CHANNELS.
    assert MIN_INT8_CHANNELS > 3
    assert _conv_inputs_quantised(int8) == [False, True]
    diff, same = _compare(fp32, int8, grey)
    assert diff < 0.05 and same >= 0.9


def test_dynamic_quantisation_of_an_exported_lipnet(lipnet_onnx: tuple[Path, Path], tmp_path: Path) -> None:
    _, fp32 = lipnet_onnx
    int8 = quantize_int8(fp32, tmp_path / "int8.onnx")
    assert "Conv" in _ops(int8) and "ConvInteger" not in _ops(int8)  # dynamic int8 convolution is slower
    diff, same = _compare(fp32, int8, SMALL)
    assert diff < 0.05 and same >= 0.9


def _recurrent_weights(path: Path) -> dict[str, np.ndarray]:
    """The ``W`` and ``R`` weights of every GRU node of the model at ``path`` as float32, computed from its
    initializers as ONNX Runtime computes them (an int8 row times its scale, or the float32 initializer)."""
    graph = onnx.load(str(path)).graph
    values = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    made = {node.output[0]: node for node in graph.node if node.op_type in ("Cast", "Mul")}
    out = {}
    for i, node in enumerate(n for n in graph.node if n.op_type == "GRU"):
        for kind, name in zip("WR", node.input[1:3]):
            if name in values:
                out[f"{i}{kind}"] = values[name]
                continue
            cast, scale = made[name].input  # Mul(Cast(int8 rows), scale per row)
            rows = values[made[cast].input[0]]
            assert rows.dtype == np.int8 and values[scale].shape == (*rows.shape[:-1], 1)
            out[f"{i}{kind}"] = rows.astype(np.float32) * values[scale]
    return out


@pytest.mark.parametrize("static", [True, False], ids=["static", "dynamic"])
def test_recurrent_weights_are_stored_as_int8_rows(
    lipnet_onnx: tuple[Path, Path], tmp_path: Path, static: bool
) -> None:
    _, fp32 = lipnet_onnx
    calibration = _clips(SMALL, 4, 20, seed=2) if static else None
    int8 = quantize_int8(fp32, tmp_path / "int8.onnx", calibration=calibration)
    before, after = _recurrent_weights(fp32), _recurrent_weights(int8)
    assert before.keys() == after.keys() and len(before) == 8  # two bidirectional layers, W and R each
    for key, w in before.items():
        assert not np.array_equal(after[key], w)  # rounded: stored in 8 bits, not in float32
        # each row to within half a step of its scale, the row's largest magnitude over 127
        step = np.abs(w).max(axis=-1, keepdims=True) / 127
        assert np.all(np.abs(after[key] - w) <= step / 2 + 1e-7), key
    onnx_bytes = sum(v.nbytes for v in before.values())
    assert fp32.stat().st_size - int8.stat().st_size > 0.6 * onnx_bytes  # three quarters of those bytes saved
    diff, same = _compare(fp32, int8, SMALL)
    assert diff < 0.05 and same >= 0.9


def test_export_command_quantises(
    lipnet_onnx: tuple[Path, Path],
    grid_clip: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ckpt, fp32 = lipnet_onnx
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / grid_clip.name).symlink_to(grid_clip)
    (clips / "broken.mp4").write_bytes(b"\x00" * 64)  # reported and skipped: the other clip calibrates
    out = tmp_path / "int8.onnx"
    args = ["export", str(ckpt), "-o", str(out), "--quantize", "int8", "--calibration", str(clips)]
    with caplog.at_level(logging.INFO):
        assert main(args) == 0
    printed, err = capsys.readouterr()
    assert printed.strip() == str(out)
    assert (
        err.startswith(f"lipread: warning: {clips / 'broken.mp4'}: not used for calibration: ") and err.count("\n") == 1
    )
    assert err.count("broken.mp4") == 1  # named once
    dynamic = tmp_path / "dynamic.onnx"  # without calibration: only the matrix multiplications are quantised
    assert main(["export", str(ckpt), "-o", str(dynamic), "--quantize", "int8"]) == 0
    assert capsys.readouterr() == (f"{dynamic}\n", "")
    assert _ops(dynamic) & {"MatMulInteger", "DynamicQuantizeMatMul"} and "QuantizeLinear" not in _ops(dynamic)
    # ONNX Runtime's advice to its own users (pre-process the graph first) is not for lipread's
    assert not [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "QuantizeLinear" in _ops(out)
    assert get_backend("onnx").load(out).trained_on == {"data": "none"}
    diff, same = _compare(fp32, out, SMALL)
    assert diff < 0.05 and same >= 0.9


def test_export_command_refuses_calibration_without_quantize(
    lipnet_onnx: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, _ = lipnet_onnx
    with pytest.raises(SystemExit) as exit_status:  # a usage error, as argparse reports one
        main(["export", str(ckpt), "-o", str(tmp_path / "m.onnx"), "--calibration", str(tmp_path)])
    assert exit_status.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: lipread export ") and "--calibration is only used with --quantize int8" in err
    assert not (tmp_path / "m.onnx").exists()


def test_a_failed_export_leaves_the_output_as_it_was(
    lipnet_onnx: tuple[Path, Path], grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Calibration clips that cannot be read, or a quantiser that fails, write nothing: an earlier file at the
    output stays, and no partial file is left beside it."""
    ckpt, _ = lipnet_onnx
    out = tmp_path / "q.onnx"
    out.write_text("an earlier model")
    missing = ["export", str(ckpt), "-o", str(out), "--quantize", "int8", "--calibration", str(tmp_path / "no.mp4")]
    assert main(missing) == 1
    assert "no.mp4: not used for calibration: video file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 64)
    assert main([*missing[:-1], str(broken)]) == 1
    assert capsys.readouterr().err.endswith("lipread: error: --calibration: its one video could not be read\n")
    import lipread.onnx.quantize as quantize

    def failing(source: Path, *args: object) -> None:
        raise BackendError(f"{source}: the quantiser failed")  # as errors name the file they were given

    original, quantize.quantize_int8 = quantize.quantize_int8, failing
    try:
        assert main([*missing[:-1], str(grid_clip)]) == 1
    finally:
        quantize.quantize_int8 = original
    assert capsys.readouterr().err == f"lipread: error: {out}: the quantiser failed\n"  # not the partial file
    assert out.read_text() == "an earlier model"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.mp4", "q.onnx"]
    folder = tmp_path / "models.onnx"
    folder.mkdir()
    assert main(["export", str(ckpt), "-o", str(folder)]) == 1
    assert capsys.readouterr().err == f"lipread: error: {folder}: is a folder; give the .onnx file to write\n"
