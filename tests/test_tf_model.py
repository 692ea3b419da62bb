"""The Keras LipNet: architecture (the notebook's parameters and shapes), canonical weights, batch
invariance, and the TensorFlow backend object."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lipread.config import ConvBlock, get_preset
from lipread.errors import CheckpointError, VideoError
from lipread_tf.convert import canonical_shapes, canonical_to_keras, keras_to_canonical

pytestmark = pytest.mark.tensorflow

ROOT = Path(__file__).resolve().parents[1]

SMALL_GRU = get_preset("lipnet").with_(
    name="small-gru",
    height=20,
    width=40,
    frontend=(
        ConvBlock(4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True, dropout=0.5),
        ConvBlock(6, (3, 3, 3), batchnorm=True),
    ),
    rnn_hidden=8,
)
SMALL_LSTM = get_preset("lipnet-notebook").with_(
    name="small-lstm", height=12, width=20, frontend=(ConvBlock(4, (3, 3, 3)), ConvBlock(5, (3, 3, 3))), rnn_hidden=6
)

NOTEBOOK_SHAPES = [
    ("Conv3D", (75, 46, 140, 128)),
    ("Activation", (75, 46, 140, 128)),
    ("MaxPooling3D", (75, 23, 70, 128)),
    ("Conv3D", (75, 23, 70, 256)),
    ("Activation", (75, 23, 70, 256)),
    ("MaxPooling3D", (75, 11, 35, 256)),
    ("Conv3D", (75, 11, 35, 75)),
    ("Activation", (75, 11, 35, 75)),
    ("MaxPooling3D", (75, 5, 17, 75)),
    ("Flatten", (75, 6375)),
    ("Bidirectional", (75, 256)),
    ("Dropout", (75, 256)),
    ("Bidirectional", (75, 256)),
    ("Dropout", (75, 256)),
    ("Dense", (75, 41)),
]
"""The LipNet notebook's ``model.summary()``: layer kinds and output shapes (batch left out)."""


def random_canonical(config: object, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {k: rng.normal(size=s).astype(np.float32) for k, s in canonical_shapes(config).items()}  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Conversion (NumPy only)
# --------------------------------------------------------------------------------------------------


def test_gru_conversion_round_trip_and_gate_order() -> None:
    tensors = random_canonical(SMALL_GRU)
    keras_weights = canonical_to_keras(SMALL_GRU, tensors)
    back = keras_to_canonical(SMALL_GRU, keras_weights)
    assert back.keys() == tensors.keys()
    for name in tensors:
        np.testing.assert_array_equal(back[name], tensors[name], err_msg=name)
    h = SMALL_GRU.rnn_hidden
    w_hh = tensors["rnn.1.forward.weight_hh_l0"]  # torch rows r, z, n -> Keras columns z, r, h
    recurrent = keras_weights["rnn1/forward/recurrent_kernel"]
    np.testing.assert_array_equal(recurrent[:, :h], w_hh[h : 2 * h].T)
    np.testing.assert_array_equal(recurrent[:, h : 2 * h], w_hh[:h].T)
    np.testing.assert_array_equal(recurrent[:, 2 * h :], w_hh[2 * h :].T)
    bias = keras_weights["rnn1/forward/bias"]
    assert bias.shape == (2, 3 * h)
    np.testing.assert_array_equal(bias[1, :h], tensors["rnn.1.forward.bias_hh_l0"][h : 2 * h])
    kernel = tensors["frontend.0.conv.weight"]
    np.testing.assert_array_equal(keras_weights["conv0/kernel"], kernel.transpose(2, 3, 4, 1, 0))


def test_first_recurrent_layer_features_are_reordered_to_channels_last() -> None:
    tensors = random_canonical(SMALL_GRU)
    keras_weights = canonical_to_keras(SMALL_GRU, tensors)
    c, hh, ww = SMALL_GRU.feature_shape()
    w_ih = tensors["rnn.0.forward.weight_ih_l0"]  # columns (c, h, w)
    kernel = keras_weights["rnn0/forward/kernel"]  # rows (h, w, c), columns z, r, n
    i, j, k = c - 1, hh - 1, 0
    g = SMALL_GRU.rnn_hidden
    np.testing.assert_array_equal(kernel[(j * ww + k) * c + i, 2 * g :], w_ih[2 * g :, (i * hh + j) * ww + k])


def test_lstm_biases_are_summed_and_restored_as_input_bias() -> None:
    tensors = random_canonical(SMALL_LSTM)
    keras_weights = canonical_to_keras(SMALL_LSTM, tensors)
    back = keras_to_canonical(SMALL_LSTM, keras_weights)
    for d in ("forward", "backward"):
        p = f"rnn.0.{d}."
        np.testing.assert_allclose(back[p + "bias_ih_l0"], tensors[p + "bias_ih_l0"] + tensors[p + "bias_hh_l0"])
        assert not back[p + "bias_hh_l0"].any()
        np.testing.assert_array_equal(back[p + "weight_hh_l0"], tensors[p + "weight_hh_l0"])


def test_conversion_errors_name_the_tensor() -> None:
    tensors = random_canonical(SMALL_GRU)
    missing = dict(tensors)
    del missing["rnn.1.backward.bias_hh_l0"]
    with pytest.raises(CheckpointError, match=r"rnn\.1\.backward\.bias_hh_l0"):
        canonical_to_keras(SMALL_GRU, missing)
    wrong = {**tensors, "classifier.bias": np.zeros(5, np.float32)}
    with pytest.raises(CheckpointError, match=r"'classifier\.bias' has shape \(5,\)"):
        canonical_to_keras(SMALL_GRU, wrong)
    with pytest.raises(CheckpointError, match="unexpected tensor"):
        canonical_to_keras(SMALL_GRU, {**tensors, "extra.weight": np.zeros(1, np.float32)})
    # PyTorch's BatchNorm counters are not canonical, but harmless.
    canonical_to_keras(SMALL_GRU, {**tensors, "frontend.0.bn.num_batches_tracked": np.array(3)})


# --------------------------------------------------------------------------------------------------
# The Keras model
# --------------------------------------------------------------------------------------------------


def test_notebook_preset_has_the_notebooks_parameters_and_shapes() -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf.model import FrameMask, build_keras_model

    model = build_keras_model(get_preset("lipnet-notebook"), seed=0, time_steps=75)
    assert model.count_params() == 8_471_924
    kinds = {"Reshape": "Flatten", "BidirectionalRNN": "Bidirectional"}
    layers = [
        x for x in model.layers if not isinstance(x, FrameMask) and x.name not in ("frames", "lengths", "logprobs")
    ]
    got = [(kinds.get(type(x).__name__, type(x).__name__), tuple(x.output.shape)[1:]) for x in layers]
    assert got == NOTEBOOK_SHAPES


def test_conv_dropout_replaces_the_spatial_dropout_layers() -> None:
    pytest.importorskip("tensorflow")
    import keras

    from lipread_tf.model import build_keras_model

    def rates(model: keras.Model) -> list[float]:
        return [x.rate for x in model.layers if isinstance(x, keras.layers.SpatialDropout3D)]

    assert rates(build_keras_model(SMALL_GRU, seed=0)) == [0.5]
    assert rates(build_keras_model(SMALL_GRU, seed=0, conv_dropout=0.25)) == [0.25, 0.25]
    off = build_keras_model(SMALL_GRU, seed=0, conv_dropout=0.0)
    assert rates(off) == []
    assert [w.shape for w in off.weights] == [w.shape for w in build_keras_model(SMALL_GRU, seed=0).weights]


@pytest.mark.parametrize("preset", ["lipnet", "lipnet-notebook"])
def test_presets_have_the_canonical_parameters(preset: str) -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    config = get_preset(preset)
    model = backend.build(config, seed=0)
    state = model.state_dict()
    assert {k: v.shape for k, v in state.items()} == canonical_shapes(config)
    assert all(v.dtype == np.float32 for v in state.values())
    # Keras's LSTM has one bias where PyTorch has two; its GRU (reset_after) has both.
    not_in_keras = (
        ("running_mean", "running_var", "bias_hh_l0") if config.rnn == "lstm" else ("running_mean", "running_var")
    )
    assert model.num_parameters() == sum(v.size for k, v in state.items() if not k.endswith(not_in_keras))


@pytest.mark.parametrize("config", [SMALL_GRU, SMALL_LSTM], ids=["gru", "lstm"])
def test_batch_invariance_and_padding_is_ignored(config: object) -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    model = backend.build(config, seed=3)  # type: ignore[arg-type]
    c = model.config
    rng = np.random.default_rng(0)
    lengths = np.array([17, 9, 13], np.int32)
    frames = rng.normal(size=(3, 17, c.height, c.width, c.channels)).astype(np.float32)  # padding: noise
    batch = model.logprobs(frames, lengths)
    assert batch.shape == (3, 17, c.num_classes) and batch.dtype == np.float32
    np.testing.assert_allclose(np.exp(batch).sum(-1), 1.0, atol=1e-5)
    for i, n in enumerate(lengths):
        alone = model.logprobs(frames[i : i + 1, :n])
        assert np.abs(alone[0] - batch[i, :n]).max() <= 1e-5
    infer = model.inference_function()
    assert infer.experimental_get_tracing_count() == 1  # one trace serves every batch size and length


def test_state_dict_round_trip_gives_the_same_outputs() -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    a, b = backend.build(SMALL_GRU, seed=1), backend.build(SMALL_GRU, seed=2)
    frames = np.random.default_rng(1).normal(size=(2, 11, 20, 40, 3)).astype(np.float32)
    assert np.abs(a.logprobs(frames) - b.logprobs(frames)).max() > 1e-3
    b.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(a.logprobs(frames), b.logprobs(frames))
    with pytest.raises(CheckpointError, match="missing tensor"):
        b.load_state_dict({k: v for k, v in a.state_dict().items() if k != "classifier.weight"})


def test_seeded_build_is_reproducible() -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    x, y = backend.build(SMALL_LSTM, seed=5).state_dict(), backend.build(SMALL_LSTM, seed=5).state_dict()
    assert all(np.array_equal(x[k], y[k]) for k in x)


def test_logprobs_rejects_wrong_frames() -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    model = backend.build(SMALL_LSTM, seed=0)
    with pytest.raises(VideoError, match=r"expects frames float32 \(B, T, 12, 20, 1\)"):
        model.logprobs(np.zeros((1, 5, 20, 12, 1), np.float32))


# --------------------------------------------------------------------------------------------------
# The backend object
# --------------------------------------------------------------------------------------------------


def test_backend_save_and_load(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    import lipread
    from lipread.backend import Backend, Model
    from lipread_tf import backend

    assert lipread.get_backend("tf") is backend
    assert isinstance(backend, Backend)
    assert backend.name == "tensorflow" and backend.capabilities == {"inference", "train", "export"}
    model = backend.build(SMALL_GRU, seed=0)
    assert isinstance(model, Model) and model.backend == "tensorflow"
    path = backend.save(model, tmp_path / "m.safetensors", trained_on={"clips": 3}, metrics={"wer": 0.5})
    loaded = backend.load(path)
    assert loaded.config == SMALL_GRU
    assert loaded.trained_on == {"clips": 3} and loaded.metrics == {"wer": 0.5}
    frames = np.random.default_rng(2).normal(size=(1, 7, 20, 40, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.logprobs(frames), model.logprobs(frames))


def test_backend_load_errors_name_the_file(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    from lipread.weights import save_checkpoint
    from lipread_tf import backend

    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        backend.load(junk)
    tensors = random_canonical(SMALL_GRU)
    tensors["rnn.0.forward.weight_hh_l0"] = np.zeros((3, 3), np.float32)
    bad = save_checkpoint(tmp_path / "bad.safetensors", tensors, SMALL_GRU)
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: tensor 'rnn\.0\.forward\.weight_hh_l0'"):
        backend.load(bad)


def test_importing_the_package_does_not_import_tensorflow() -> None:
    code = (
        "import os, sys, lipread_tf; "
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'; "
        "print(os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"  # TensorFlow's C++ log lines off (see lipread_tf's docstring)
