"""LipNet in Keras 3 (TensorFlow), built from a :class:`lipread.config.ModelConfig`.

The network is a functional Keras model with two inputs, ``frames`` ``float32 (B, T, H, W, C)`` and
``lengths`` ``int32 (B,)``, and one output, log-probabilities ``float32 (B, T, V)``. T is dynamic.

Layers (``i`` the front-end block, ``l`` the recurrent layer), named so :mod:`lipread_tf.convert` can find
them:

- ``conv{i}``: Conv3D. Explicit zero padding is ``padding="same"`` when it equals it (stride 1, odd kernel,
  padding ``kernel // 2``), else a ``pad{i}`` ZeroPadding3D in front of a ``"valid"`` convolution, so the
  arithmetic is PyTorch's ``Conv3d(padding=...)`` exactly.
- ``bn{i}`` (when the block has BatchNorm; epsilon ``config.batchnorm_eps``, PyTorch's momentum 0.1),
  ``relu{i}``, ``dropout{i}`` (SpatialDropout3D), ``pool{i}`` (MaxPooling3D, floor), then ``mask{i}``,
  which zeroes the frames past each clip's length so that padding never leaks into valid frames.
- ``flatten``: per-frame flatten in Keras's channels-last ``(H, W, C)`` order (the checkpoint's
  ``(C, H, W)`` order is converted on load and save).
- ``rnn{l}``: :class:`BidirectionalRNN`, a forward and a backward Keras ``GRU`` (``reset_after=True``) or
  ``LSTM``; the backward one reads each clip reversed within its length. ``rnn_dropout{l}`` after each.
- ``classifier``: Dense(V), then ``log_softmax``.

For the ``lipnet-notebook`` preset this is the LipNet notebook's Sequential model layer for layer (same
parameters, 8,471,924, and the same output shapes), plus the length masking.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lipread.config import ConvBlock, ModelConfig
from lipread.errors import BackendError
from lipread.model_input import checked_input

from ._tensorflow import keras, tf
from .convert import canonical_to_keras, keras_to_canonical

if keras.backend.backend() != "tensorflow":
    raise BackendError(
        f"the tensorflow backend needs Keras on TensorFlow, but Keras runs on {keras.backend.backend()!r} "
        "(unset KERAS_BACKEND or set it to 'tensorflow')"
    )

__all__ = [
    "BidirectionalRNN",
    "FrameMask",
    "TFModel",
    "build_keras_model",
    "keras_variables",
    "keras_weights",
    "reverse_within_length",
    "uses_same_padding",
]


class FrameMask(keras.layers.Layer):
    """Zero every frame ``t >= lengths[b]`` of a ``(B, T, ...)`` tensor."""

    def call(self, x: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
        """``x (B, T, ...)`` with frames ``t >= lengths[b]`` set to zero (``lengths``: ``int (B,)``)."""
        mask = tf.sequence_mask(lengths, maxlen=tf.shape(x)[1], dtype=x.dtype)
        return x * tf.reshape(mask, tf.concat([tf.shape(mask), tf.ones([x.shape.rank - 2], tf.int32)], 0))

    def compute_output_shape(self, x_shape: tuple, lengths_shape: tuple) -> tuple:
        """The shape of ``x``, unchanged."""
        return x_shape


def reverse_within_length(x: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
    """Reverse each sequence of ``x (B, T, F)`` within its length; frames past the length stay in place.

    A gather rather than ``tf.reverse_sequence``: tf2onnx would fuse the latter with the recurrent layers
    into a bidirectional ONNX LSTM that reverses whole padded sequences, ignoring the lengths.
    """
    t = tf.range(tf.shape(x)[1], dtype=lengths.dtype)[None, :]
    n = lengths[:, None]
    return tf.gather(x, tf.where(t < n, n - 1 - t, t), batch_dims=1)


class BidirectionalRNN(keras.layers.Layer):
    """A forward and a backward recurrent layer over ``(B, T, F)``, outputs concatenated: ``(B, T, 2H)``.

    The backward layer reads each clip reversed within its own length (:func:`reverse_within_length`), so a clip's
    outputs do not depend on the padding after it. Sub-layers ``forward`` and ``backward`` are Keras ``GRU``
    (``reset_after=True``: gates z, r, h; bias ``(2, 3H)`` = input and recurrent biases) or ``LSTM`` (gates
    i, f, c, o; one bias ``(4H,)``).
    """

    def __init__(self, kind: str, units: int, seed: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.units = units

        def make(name: str, offset: int) -> keras.layers.Layer:
            init = {
                "kernel_initializer": keras.initializers.GlorotUniform(seed=None if seed is None else seed + offset),
                "recurrent_initializer": keras.initializers.Orthogonal(
                    seed=None if seed is None else seed + offset + 1
                ),
            }
            if kind == "gru":
                return keras.layers.GRU(units, return_sequences=True, reset_after=True, name=name, **init)
            return keras.layers.LSTM(units, return_sequences=True, name=name, **init)

        self.forward = make("forward", 0)
        self.backward = make("backward", 2)

    def build(self, x_shape: tuple, lengths_shape: tuple) -> None:
        """Create both directions' weights for inputs of shape ``x_shape`` ``(B, T, F)``."""
        self.forward.build(x_shape)
        self.backward.build(x_shape)

    def call(self, x: tf.Tensor, lengths: tf.Tensor, training: bool | None = None) -> tf.Tensor:
        """``float (B, T, F)`` and ``int (B,)`` lengths -> ``float (B, T, 2H)``: forward then backward outputs."""
        fwd = self.forward(x, training=training)
        bwd = reverse_within_length(self.backward(reverse_within_length(x, lengths), training=training), lengths)
        return tf.concat([fwd, bwd], axis=-1)

    def compute_output_shape(self, x_shape: tuple, lengths_shape: tuple) -> tuple:
        """``(B, T, 2 * units)`` for inputs ``(B, T, F)``."""
        return (*x_shape[:-1], 2 * self.units)


def uses_same_padding(block: ConvBlock) -> bool:
    """Whether a block's explicit padding is exactly Keras's ``padding="same"`` (stride 1, odd kernel)."""
    return block.stride == (1, 1, 1) and all(k % 2 == 1 and p == k // 2 for k, p in zip(block.kernel, block.padding))


def build_keras_model(
    config: ModelConfig, seed: int | None = None, time_steps: int | None = None, conv_dropout: float | None = None
) -> keras.Model:
    """The Keras network for ``config``.

    Args:
        config: the model configuration.
        seed: seeds every initialiser and dropout layer (None: random).
        time_steps: a fixed T for the ``frames`` input (None: dynamic, the default; a fixed T only serves
            to show static shapes, e.g. in ``model.summary()``).
        conv_dropout: spatial dropout after every convolution block in place of the blocks' own rates
            (None: the blocks' own; 0: none). Dropout acts only in training, so the weights stay those of
            ``config``.

    Returns:
        A functional ``keras.Model``: inputs ``[frames float32 (B, T, H, W, C), lengths int32 (B,)]``,
        output ``float32 (B, T, V)`` log-probabilities.
    """

    config.validate()  # (ValueError naming the field and its limit, before anything is built)

    def s(offset: int) -> int | None:
        return None if seed is None else seed + 10 * offset

    frames = keras.Input((time_steps, config.height, config.width, config.channels), name="frames")
    lengths = keras.Input((), dtype="int32", name="lengths")
    x = FrameMask(name="input_mask")(frames, lengths)
    for i, block in enumerate(config.frontend):
        conv_init = {
            "kernel_initializer": keras.initializers.GlorotUniform(seed=s(i)),
            "bias_initializer": "zeros",
        }
        if uses_same_padding(block):
            x = keras.layers.Conv3D(block.channels, block.kernel, padding="same", name=f"conv{i}", **conv_init)(x)
        else:
            x = keras.layers.ZeroPadding3D(block.padding, name=f"pad{i}")(x)
            x = keras.layers.Conv3D(
                block.channels, block.kernel, strides=block.stride, padding="valid", name=f"conv{i}", **conv_init
            )(x)
        if block.batchnorm:
            x = keras.layers.BatchNormalization(epsilon=config.batchnorm_eps, momentum=0.9, name=f"bn{i}")(x)
        x = keras.layers.Activation("relu", name=f"relu{i}")(x)
        rate = block.dropout if conv_dropout is None else conv_dropout
        if rate > 0:
            x = keras.layers.SpatialDropout3D(rate, seed=s(i), name=f"dropout{i}")(x)
        x = keras.layers.MaxPooling3D(block.pool, padding="valid", name=f"pool{i}")(x)
        x = FrameMask(name=f"mask{i}")(x, lengths)
    x = keras.layers.Reshape((-1, config.feature_size), name="flatten")(x)
    for layer in range(config.rnn_layers):
        x = BidirectionalRNN(config.rnn, config.rnn_hidden, seed=s(10 + layer), name=f"rnn{layer}")(x, lengths)
        if config.rnn_dropout > 0:
            x = keras.layers.Dropout(config.rnn_dropout, seed=s(20 + layer), name=f"rnn_dropout{layer}")(x)
    x = keras.layers.Dense(
        config.num_classes, kernel_initializer=keras.initializers.GlorotUniform(seed=s(30)), name="classifier"
    )(x)
    out = keras.layers.Activation("log_softmax", dtype="float32", name="logprobs")(x)
    return keras.Model([frames, lengths], out, name=config.name.replace("-", "_"))


def keras_variables(model: keras.Model, config: ModelConfig) -> dict[str, keras.Variable]:
    """The model's weights by Keras-layout key (see :mod:`lipread_tf.convert`): ``conv0/kernel``,
    ``bn0/moving_mean``, ``rnn0/forward/kernel``, ``classifier/bias``, ..."""
    out: dict[str, keras.Variable] = {}
    for i, block in enumerate(config.frontend):
        conv = model.get_layer(f"conv{i}")
        out[f"conv{i}/kernel"], out[f"conv{i}/bias"] = conv.kernel, conv.bias
        if block.batchnorm:
            bn = model.get_layer(f"bn{i}")
            for name in ("gamma", "beta", "moving_mean", "moving_variance"):
                out[f"bn{i}/{name}"] = getattr(bn, name)
    for layer in range(config.rnn_layers):
        rnn = model.get_layer(f"rnn{layer}")
        for direction in ("forward", "backward"):
            cell = getattr(rnn, direction).cell
            for name in ("kernel", "recurrent_kernel", "bias"):
                out[f"rnn{layer}/{direction}/{name}"] = getattr(cell, name)
    dense = model.get_layer("classifier")
    out["classifier/kernel"], out["classifier/bias"] = dense.kernel, dense.bias
    return out


def keras_weights(model: keras.Model, config: ModelConfig) -> dict[str, np.ndarray]:
    """:func:`keras_variables` as float32 NumPy arrays."""
    return {k: np.asarray(v.numpy(), dtype=np.float32) for k, v in keras_variables(model, config).items()}


class TFModel:
    """A LipNet Keras model behind lipread's :class:`lipread.backend.Model` interface.

    Attributes:
        config: the model configuration.
        keras_model: the underlying functional Keras model (see :func:`build_keras_model`).
        trained_on, metrics: the checkpoint metadata it was loaded with (empty for a new model).
    """

    backend = "tensorflow"

    def __init__(self, config: ModelConfig, keras_model: keras.Model | None = None, seed: int | None = None) -> None:
        self.config = config
        self.keras_model = keras_model if keras_model is not None else build_keras_model(config, seed=seed)
        self.trained_on: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}
        self._infer: tf.types.experimental.PolymorphicFunction | None = None

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return int(sum(np.prod(v.shape) for v in self.keras_model.trainable_weights))

    def inference_function(self) -> tf.types.experimental.PolymorphicFunction:
        """A ``tf.function`` ``(frames float32 (B, T, H, W, C), lengths int32 (B,)) -> float32 (B, T, V)``
        in inference mode, with dynamic B and T (traced once)."""
        if self._infer is None:
            c = self.config
            model = self.keras_model

            @tf.function(
                input_signature=[
                    tf.TensorSpec((None, None, c.height, c.width, c.channels), tf.float32, name="frames"),
                    tf.TensorSpec((None,), tf.int32, name="lengths"),
                ]
            )
            def infer(frames: tf.Tensor, lengths: tf.Tensor) -> tf.Tensor:
                return model([frames, lengths], training=False)

            self._infer = infer
        return self._infer

    def logprobs(self, frames: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Log-probabilities ``float32 (B, T, V)`` for frames ``float32 (B, T, H, W, C)``.

        Args:
            frames: a batch of preprocessed clips (see :func:`lipread.video.preprocess.load_clip`).
            lengths: ``int (B,)`` valid frames per clip; None: all ``T``.

        Raises:
            VideoError: the frames are not ``(B, T, H, W, C)`` with this model's ``H, W, C`` and T >= 1, or the
                lengths are not B whole numbers in ``1..T``.
        """
        x, n = checked_input(self.config, frames, lengths)
        if len(x) == 0:
            return np.zeros((0, x.shape[1], self.config.num_classes), np.float32)
        return self.inference_function()(tf.constant(x), tf.constant(n)).numpy()

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under their canonical (PyTorch) names and layouts, float32."""
        return keras_to_canonical(self.config, keras_weights(self.keras_model, self.config))

    def load_state_dict(self, tensors: dict[str, np.ndarray]) -> None:
        """Set the weights from canonical tensors. Raises CheckpointError on missing or misshapen ones."""
        weights = canonical_to_keras(self.config, tensors)
        for key, var in keras_variables(self.keras_model, self.config).items():
            var.assign(weights[key])
