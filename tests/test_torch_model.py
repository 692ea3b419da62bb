"""The PyTorch LipNet: canonical parameter names, batch invariance, the Model/Backend protocols, checkpoints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lipread import CheckpointError, VideoError, get_backend  # noqa: E402
from lipread.backend import Backend, Model  # noqa: E402
from lipread.config import ConvBlock, ModelConfig, get_preset  # noqa: E402
from lipread.weights import load_checkpoint, save_checkpoint  # noqa: E402
from lipread_torch import backend  # noqa: E402
from lipread_torch.model import LipNet, reverse_within_length  # noqa: E402

pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[1]


def small(preset: str) -> ModelConfig:
    """A preset with narrow layers (same structure, same input size) for fast tests."""
    cfg = get_preset(preset)
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, b.dropout, b.pool)
        for c, b in zip((4, 6, 5), cfg.frontend)
    )
    return cfg.with_(frontend=blocks, rnn_hidden=8)


def test_lipnet_canonical_names_and_shapes() -> None:
    sd = backend.build(get_preset("lipnet"), seed=0).state_dict()
    assert sd["frontend.0.conv.weight"].shape == (32, 3, 3, 5, 5)
    assert sd["frontend.1.conv.weight"].shape == (64, 32, 3, 5, 5)
    assert sd["frontend.2.conv.weight"].shape == (96, 64, 3, 3, 3)
    for i, c in enumerate((32, 64, 96)):
        for k in ("weight", "bias", "running_mean", "running_var"):
            assert sd[f"frontend.{i}.bn.{k}"].shape == (c,)
    assert not any("num_batches_tracked" in k for k in sd)
    # features per frame: 96 channels x 3 x 6 after three (1, 2, 2) pools of the 25x50 first-conv output
    assert sd["rnn.0.forward.weight_ih_l0"].shape == (3 * 256, 96 * 3 * 6)
    assert sd["rnn.1.backward.weight_ih_l0"].shape == (3 * 256, 512)
    for layer in (0, 1):
        for direction in ("forward", "backward"):
            p = f"rnn.{layer}.{direction}."
            assert sd[p + "weight_hh_l0"].shape == (768, 256)
            assert sd[p + "bias_ih_l0"].shape == sd[p + "bias_hh_l0"].shape == (768,)
    assert sd["classifier.weight"].shape == (28, 512)
    assert sd["classifier.bias"].shape == (28,)
    assert all(v.dtype == np.float32 for v in sd.values())
    assert len(sd) == 3 * 6 + 2 * 2 * 4 + 2


def test_conv_dropout_replaces_the_spatial_dropout_and_keeps_the_weights() -> None:
    config = small("lipnet")
    assert [b.dropout.p for b in LipNet(config).frontend] == [0.5, 0.5, 0.5]
    assert [b.dropout.p for b in LipNet(config, conv_dropout=0.2).frontend] == [0.2, 0.2, 0.2]
    off = LipNet(config, conv_dropout=0.0)
    assert all(b.dropout is None for b in off.frontend)
    assert off.state_dict().keys() == LipNet(config).state_dict().keys()
    # with dropout off, training-mode outputs are deterministic (BatchNorm uses batch statistics)
    x = torch.randn(2, 6, 50, 100, 3)
    off.train()
    assert torch.equal(off(x), off(x))


def test_notebook_names_and_parameter_count() -> None:
    model = backend.build(get_preset("lipnet-notebook"), seed=0)
    sd = model.state_dict()
    assert not any(".bn." in k for k in sd)
    assert sd["frontend.2.conv.weight"].shape == (75, 256, 3, 3, 3)
    assert sd["rnn.0.forward.weight_ih_l0"].shape == (4 * 128, 75 * 5 * 17)
    assert sd["classifier.weight"].shape == (41, 256)
    # The notebook's Keras model has 8,471,924 parameters; PyTorch's LSTMs carry a second bias vector
    # (bias_ih and bias_hh) per direction and layer: 2 layers x 2 directions x 4 x 128 = 2048 more.
    assert model.num_parameters() == 8_471_924 + 2048


def test_protocols_and_registry() -> None:
    assert get_backend("torch") is backend
    assert get_backend("pytorch") is backend
    assert isinstance(backend, Backend)
    assert backend.capabilities == frozenset({"inference", "train", "export"})
    model = backend.build(small("lipnet"), seed=0)
    assert isinstance(model, Model)
    assert model.backend == "torch"
    assert model.device.type == "cpu"


def test_import_is_light() -> None:
    code = "import sys, lipread_torch; assert lipread_torch.backend.name == 'torch'; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_seeded_build_is_reproducible_and_leaves_global_rng_alone() -> None:
    cfg = small("lipnet")
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = backend.build(cfg, seed=7).state_dict(), backend.build(cfg, seed=7).state_dict()
    assert torch.equal(before, torch.get_rng_state())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = backend.build(cfg, seed=8).state_dict()
    assert not np.array_equal(a["classifier.weight"], c["classifier.weight"])


def test_logprobs_contract() -> None:
    cfg = small("lipnet")
    model = backend.build(cfg, seed=0)
    x = np.random.default_rng(0).standard_normal((2, 9, 50, 100, 3)).astype(np.float32)
    out = model.logprobs(x, np.array([9, 6], np.int32))
    assert out.shape == (2, 9, 28) and out.dtype == np.float32
    np.testing.assert_allclose(np.exp(out).sum(-1), 1.0, atol=1e-5)
    assert np.array_equal(model.logprobs(x), model.logprobs(x, np.array([9, 9])))
    assert not model.module.training
    with pytest.raises(VideoError, match="expects frames"):
        model.logprobs(x[..., :1])
    with pytest.raises(VideoError, match="lengths"):
        model.logprobs(x, np.array([10, 3]))


def test_reverse_within_length() -> None:
    x = torch.arange(2 * 5, dtype=torch.float32).reshape(2, 5, 1)
    r = reverse_within_length(x, torch.tensor([5, 3]))
    assert r[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]
    assert torch.equal(reverse_within_length(r, torch.tensor([5, 3])), x)


def _invariance_gap(cfg: ModelConfig, seed: int) -> float:
    """Max |difference| over valid frames between clips run alone and inside a padded batch."""
    model = backend.build(cfg, seed=seed)
    # Non-trivial BatchNorm statistics, so eval mode really uses them.
    for name, t in model.module.state_dict().items():
        if name.endswith(("running_mean", "running_var")):
            t.copy_(torch.rand_like(t) + 0.5)
    rng = np.random.default_rng(seed)
    lengths = [11, 17, 7]
    clips = [rng.standard_normal((n, cfg.height, cfg.width, cfg.channels)).astype(np.float32) for n in lengths]
    batch = np.zeros((3, 20, cfg.height, cfg.width, cfg.channels), np.float32)
    for i, c in enumerate(clips):
        batch[i, : len(c)] = c
        batch[i, len(c) :] = 100.0  # garbage in the padding must not matter either
    together = model.logprobs(batch, np.array(lengths, np.int32))
    gap = 0.0
    for i, c in enumerate(clips):
        alone = model.logprobs(c[None])[0]
        gap = max(gap, float(np.abs(alone - together[i, : len(c)]).max()))
    return gap


@pytest.mark.parametrize("preset", ["lipnet", "lipnet-notebook"])
def test_batch_invariance_small(preset: str) -> None:
    assert _invariance_gap(small(preset), seed=1) <= 1e-5


def test_batch_invariance_real_size_lipnet() -> None:
    assert _invariance_gap(get_preset("lipnet"), seed=2) <= 1e-5


def test_save_load_round_trip(tmp_path: Path) -> None:
    cfg = small("lipnet")
    model = backend.build(cfg, seed=3)
    path = backend.save(model, tmp_path / "m.safetensors", trained_on={"data": "x"}, metrics={"val_wer": 0.5})
    loaded = backend.load(path)
    assert loaded.config == cfg
    assert loaded.metrics == {"val_wer": 0.5} and loaded.trained_on == {"data": "x"}
    a, b = model.state_dict(), loaded.state_dict()
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    x = np.random.default_rng(0).standard_normal((1, 6, 50, 100, 3)).astype(np.float32)
    assert np.array_equal(model.logprobs(x), loaded.logprobs(x))


def test_float16_checkpoint_loads_as_float32(tmp_path: Path) -> None:
    cfg = small("lipnet-notebook")
    model = backend.build(cfg, seed=4)
    path = save_checkpoint(tmp_path / "h.safetensors", model.state_dict(), cfg, dtype="float16")
    assert load_checkpoint(path).tensors["classifier.weight"].dtype == np.float16
    loaded = backend.load(path)
    w = loaded.state_dict()["classifier.weight"]
    assert w.dtype == np.float32
    np.testing.assert_allclose(w, model.state_dict()["classifier.weight"], atol=1e-3)


def test_load_errors_name_the_tensor(tmp_path: Path) -> None:
    cfg = small("lipnet")
    tensors = backend.build(cfg, seed=0).state_dict()
    missing = dict(tensors)
    del missing["rnn.1.backward.bias_hh_l0"]
    path = save_checkpoint(tmp_path / "missing.safetensors", missing, cfg)
    with pytest.raises(CheckpointError, match=r"missing\.safetensors.*rnn\.1\.backward\.bias_hh_l0"):
        backend.load(path)
    wrong = dict(tensors)
    wrong["frontend.0.conv.weight"] = np.zeros((4, 3, 3, 5, 4), np.float32)
    path = save_checkpoint(tmp_path / "shape.safetensors", wrong, cfg)
    with pytest.raises(CheckpointError, match=r"frontend\.0\.conv\.weight.*\(4, 3, 3, 5, 4\)"):
        backend.load(path)
    model = backend.build(cfg, seed=0)
    with pytest.raises(CheckpointError, match="unexpected tensor 'extra'"):
        model.load_state_dict({**tensors, "extra": np.zeros(1, np.float32)})
    with pytest.raises(CheckpointError, match="not found"):
        backend.load(tmp_path / "nothing.safetensors")


def test_cpu_autocast_runs_only_the_convolutions_in_bfloat16() -> None:
    """``--amp`` on a CPU: bfloat16 front end, float32 recurrent layers, float32 log-probabilities."""
    module = backend.build(small("lipnet"), seed=0).module.eval()
    seen: dict[str, torch.dtype] = {}
    module.frontend[0].conv.register_forward_hook(lambda m, i, o: seen.__setitem__("conv", o.dtype))
    module.rnn[0].fwd.register_forward_hook(lambda m, i, o: seen.__setitem__("rnn", o[0].dtype))
    frames = torch.randn(2, 12, 50, 100, 3)
    with torch.inference_mode():
        exact = module(frames)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = module(frames)
    assert seen == {"conv": torch.bfloat16, "rnn": torch.float32}
    assert mixed.dtype == torch.float32
    assert 0 < (mixed - exact).abs().max().item() < 0.1


def test_a_device_torch_cannot_use_is_a_backend_error(
    tmp_path: Path, grid_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import lipread
    from lipread import BackendError
    from lipread.cli.app import main
    from lipread_torch.wrapper import resolve_device

    assert resolve_device(" CPU ") == torch.device("cpu")
    with pytest.raises(BackendError, match=r"unknown device 'gpu'; use 'auto', 'cpu' or 'cuda'"):
        resolve_device("gpu")
    path = backend.save(backend.build(small("lipnet"), seed=0), tmp_path / "m.safetensors")
    with pytest.raises(BackendError, match="unknown device 'gpu'"):
        lipread.load_model(path, device="gpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match=r"device 'cuda' was asked for, but PyTorch sees no CUDA device"):
            lipread.load_model(path, device="cuda")
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", str(grid_root), "-o", str(run), "--device", "gpu", "--max-clips", "8", "--no-progress"]) == 1
    assert capsys.readouterr().err.endswith(
        "lipread: error: unknown device 'gpu'; use 'auto', 'cpu' or 'cuda' (or 'cuda:N')\n"
    )
    assert not run.exists()  # made for a run that never trained, and removed again
    run.mkdir()  # but a folder that was there before is the user's: it stays
    assert main(["train", str(grid_root), "-o", str(run), "--device", "gpu", "--max-clips", "8", "--no-progress"]) == 1
    assert run.is_dir()


def test_batch_norm_counters_in_a_checkpoint_are_not_weights(tmp_path: Path) -> None:
    """A state dict saved whole (with BatchNorm's num_batches_tracked, which lipread's checkpoints may hold)
    loads as the same model."""
    model = backend.build(small("lipnet"), seed=0)
    whole = {k: v.numpy() for k, v in model.module.state_dict().items()}
    assert any(k.endswith("num_batches_tracked") for k in whole)
    path = save_checkpoint(tmp_path / "whole.safetensors", whole, model.config)
    loaded = backend.load(path)
    x = np.random.default_rng(0).standard_normal((1, 9, 50, 100, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.logprobs(x), model.logprobs(x))


def test_onnx_options_given_for_a_checkpoint_are_named_without_onnx_runtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A torch-only install: ``threads=`` for a checkpoint is named as an onnx option, not answered with an
    advice to install onnxruntime."""
    import lipread
    from lipread import BackendError
    from lipread import backend as registry

    path = backend.save(backend.build(small("lipnet"), seed=0), tmp_path / "m.safetensors")
    real = registry._module_exists
    monkeypatch.setattr(registry, "_module_exists", lambda name: name != "onnxruntime" and real(name))
    with pytest.raises(BackendError, match=r"does not take the option\(s\) threads \(options of the onnx backend"):
        lipread.load_model(path, backend="torch", threads=2)
