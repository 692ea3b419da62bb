"""Canonical (PyTorch-layout) checkpoint tensors <-> the Keras model's weights, in NumPy.

Keras-layout keys are those of :func:`lipread_tf.model.keras_variables`. What changes between the two:

- Conv3D kernel: canonical ``frontend.{i}.conv.weight (out, in, kT, kH, kW)``; Keras
  ``conv{i}/kernel (kT, kH, kW, in, out)``.
- BatchNorm: canonical ``weight, bias, running_mean, running_var``; Keras ``gamma, beta, moving_mean,
  moving_variance`` (the epsilon is ``config.batchnorm_eps`` in both).
- GRU: canonical ``weight_ih (3H, in)``, ``weight_hh (3H, H)``, ``bias_ih``, ``bias_hh`` with gates r, z, n;
  Keras (``reset_after=True``) ``kernel (in, 3H)``, ``recurrent_kernel (H, 3H)`` with gates z, r, h and
  ``bias (2, 3H)`` = [input bias; recurrent bias]. Both compute n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
- LSTM: gates i, f, g, o in both; canonical ``(4H, in)`` kernels and two biases, Keras ``(in, 4H)`` kernels
  and one bias = ``bias_ih + bias_hh``.
- first recurrent layer: its input features are flattened per frame in ``(C, H, W)`` order in the
  canonical checkpoint and in ``(H, W, C)`` order in Keras (channels last), so its input kernel's rows are
  permuted.
- classifier: canonical ``weight (V, 2H)``; Keras ``kernel (2H, V)``.

An LSTM saved from Keras gets ``bias_ih`` = the Keras bias and ``bias_hh`` = 0 (the sum is what counts).
PyTorch's ``num_batches_tracked`` counters are accepted on load and ignored.
"""

from __future__ import annotations

import numpy as np

from lipread.config import ModelConfig
from lipread.errors import CheckpointError

__all__ = ["canonical_shapes", "canonical_to_keras", "keras_to_canonical"]

_IGNORED_SUFFIX = ".num_batches_tracked"


def _gates(config: ModelConfig) -> int:
    return 3 if config.rnn == "gru" else 4


def canonical_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Every canonical tensor name of a ``config`` model and its shape."""
    shapes: dict[str, tuple[int, ...]] = {}
    channels = config.channels
    for i, b in enumerate(config.frontend):
        shapes[f"frontend.{i}.conv.weight"] = (b.channels, channels, *b.kernel)
        shapes[f"frontend.{i}.conv.bias"] = (b.channels,)
        if b.batchnorm:
            for name in ("weight", "bias", "running_mean", "running_var"):
                shapes[f"frontend.{i}.bn.{name}"] = (b.channels,)
        channels = b.channels
    g, h = _gates(config), config.rnn_hidden
    features = config.feature_size
    for layer in range(config.rnn_layers):
        for d in ("forward", "backward"):
            p = f"rnn.{layer}.{d}."
            shapes[p + "weight_ih_l0"] = (g * h, features)
            shapes[p + "weight_hh_l0"] = (g * h, h)
            shapes[p + "bias_ih_l0"] = (g * h,)
            shapes[p + "bias_hh_l0"] = (g * h,)
        features = 2 * h
    shapes["classifier.weight"] = (config.num_classes, 2 * h)
    shapes["classifier.bias"] = (config.num_classes,)
    return shapes


def _check(config: ModelConfig, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The tensors as float32, after checking names and shapes against ``config`` (CheckpointError)."""
    expected = canonical_shapes(config)
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise CheckpointError(f"missing tensor(s) {', '.join(missing)} for model {config.name!r}")
    unexpected = sorted(k for k in tensors if k not in expected and not k.endswith(_IGNORED_SUFFIX))
    if unexpected:
        raise CheckpointError(f"unexpected tensor(s) {', '.join(unexpected)} for model {config.name!r}")
    out = {}
    for k, shape in expected.items():
        a = np.asarray(tensors[k])
        if a.shape != shape:
            raise CheckpointError(f"tensor {k!r} has shape {a.shape}, model {config.name!r} needs {shape}")
        out[k] = a.astype(np.float32)
    return out


def _chw_to_hwc_columns(w: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Reorder the input columns of ``(G, C*H*W)`` from ``(C, H, W)`` order to ``(H, W, C)`` order."""
    c, h, wd = chw
    return w.reshape(w.shape[0], c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def _hwc_to_chw_columns(w: np.ndarray, chw: tuple[int, int, int]) -> np.ndarray:
    """Inverse of :func:`_chw_to_hwc_columns`."""
    c, h, wd = chw
    if w.ndim != 2 or w.shape[1] != c * h * wd:
        raise CheckpointError(f"first recurrent input kernel has shape {w.T.shape}, needs ({c * h * wd}, ...)")
    return w.reshape(w.shape[0], h, wd, c).transpose(0, 3, 1, 2).reshape(w.shape[0], -1)


def _torch_gru_to_keras(w: np.ndarray) -> np.ndarray:
    """Rows r, z, n -> z, r, n (the gate axis is axis 0)."""
    r, z, n = np.split(w, 3, axis=0)
    return np.concatenate([z, r, n], axis=0)


def _keras_gru_to_torch(w: np.ndarray) -> np.ndarray:
    """Rows z, r, h -> r, z, h (the gate axis is axis 0)."""
    z, r, n = np.split(w, 3, axis=0)
    return np.concatenate([r, z, n], axis=0)


def canonical_to_keras(config: ModelConfig, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Canonical tensors -> Keras-layout weights (float32) for a ``config`` model.

    Raises:
        CheckpointError: a tensor is missing, unexpected or misshapen (the message names it).
    """
    t = _check(config, tensors)
    out: dict[str, np.ndarray] = {}
    for i, b in enumerate(config.frontend):
        p = f"frontend.{i}."
        out[f"conv{i}/kernel"] = t[p + "conv.weight"].transpose(2, 3, 4, 1, 0)
        out[f"conv{i}/bias"] = t[p + "conv.bias"]
        if b.batchnorm:
            out[f"bn{i}/gamma"] = t[p + "bn.weight"]
            out[f"bn{i}/beta"] = t[p + "bn.bias"]
            out[f"bn{i}/moving_mean"] = t[p + "bn.running_mean"]
            out[f"bn{i}/moving_variance"] = t[p + "bn.running_var"]
    for layer in range(config.rnn_layers):
        for d in ("forward", "backward"):
            p, k = f"rnn.{layer}.{d}.", f"rnn{layer}/{d}/"
            w_ih, w_hh = t[p + "weight_ih_l0"], t[p + "weight_hh_l0"]
            b_ih, b_hh = t[p + "bias_ih_l0"], t[p + "bias_hh_l0"]
            if layer == 0:
                w_ih = _chw_to_hwc_columns(w_ih, config.feature_shape())
            if config.rnn == "gru":
                out[k + "kernel"] = _torch_gru_to_keras(w_ih).T
                out[k + "recurrent_kernel"] = _torch_gru_to_keras(w_hh).T
                out[k + "bias"] = np.stack([_torch_gru_to_keras(b_ih), _torch_gru_to_keras(b_hh)])
            else:
                out[k + "kernel"] = w_ih.T
                out[k + "recurrent_kernel"] = w_hh.T
                out[k + "bias"] = b_ih + b_hh
    out["classifier/kernel"] = t["classifier.weight"].T
    out["classifier/bias"] = t["classifier.bias"]
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def keras_to_canonical(config: ModelConfig, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Keras-layout weights -> canonical tensors (float32, C-contiguous) for a ``config`` model.

    Raises:
        CheckpointError: a Keras weight is missing or misshapen (the message names it).
    """

    def get(key: str) -> np.ndarray:
        if key not in weights:
            raise CheckpointError(f"missing Keras weight {key!r} for model {config.name!r}")
        return np.asarray(weights[key], dtype=np.float32)

    out: dict[str, np.ndarray] = {}
    for i, b in enumerate(config.frontend):
        p = f"frontend.{i}."
        out[p + "conv.weight"] = get(f"conv{i}/kernel").transpose(4, 3, 0, 1, 2)
        out[p + "conv.bias"] = get(f"conv{i}/bias")
        if b.batchnorm:
            out[p + "bn.weight"] = get(f"bn{i}/gamma")
            out[p + "bn.bias"] = get(f"bn{i}/beta")
            out[p + "bn.running_mean"] = get(f"bn{i}/moving_mean")
            out[p + "bn.running_var"] = get(f"bn{i}/moving_variance")
    for layer in range(config.rnn_layers):
        for d in ("forward", "backward"):
            p, k = f"rnn.{layer}.{d}.", f"rnn{layer}/{d}/"
            kernel, recurrent, bias = get(k + "kernel"), get(k + "recurrent_kernel"), get(k + "bias")
            if config.rnn == "gru":
                if bias.ndim != 2 or bias.shape[0] != 2:
                    raise CheckpointError(f"Keras weight {k + 'bias'!r} has shape {bias.shape}; GRU needs (2, 3H)")
                w_ih, w_hh = _keras_gru_to_torch(kernel.T), _keras_gru_to_torch(recurrent.T)
                b_ih, b_hh = _keras_gru_to_torch(bias[0]), _keras_gru_to_torch(bias[1])
            else:
                w_ih, w_hh, b_ih, b_hh = kernel.T, recurrent.T, bias, np.zeros_like(bias)
            if layer == 0:
                w_ih = _hwc_to_chw_columns(w_ih, config.feature_shape())
            out[p + "weight_ih_l0"], out[p + "weight_hh_l0"] = w_ih, w_hh
            out[p + "bias_ih_l0"], out[p + "bias_hh_l0"] = b_ih, b_hh
    out["classifier.weight"] = get("classifier/kernel").T
    out["classifier.bias"] = get("classifier/bias")
    out = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}
    return _check(config, out)
