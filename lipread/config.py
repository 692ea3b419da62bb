"""Model configurations: a JSON-serialisable description of a LipNet network, and the presets.

A :class:`ModelConfig` is everything a backend needs to build a model; the same config builds the same
network (same parameter names and shapes) in PyTorch and TensorFlow.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from .vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary

__all__ = ["DECODERS", "PRESETS", "ConvBlock", "ModelConfig", "get_preset"]

DECODERS = ("greedy", "beam", "lexicon", "grammar")
"""The CTC decoders a model may name (:attr:`ModelConfig.decoder`), all implemented in :mod:`lipread.decoding`
(:func:`lipread.decoding.decoders.make_decoder`). The names are part of a model file's metadata, so they live
here, with the rest of what a model file says."""

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class ConvBlock:
    """One front-end block: Conv3D -> [BatchNorm] -> ReLU -> [SpatialDropout3D] -> MaxPool3D.

    Kernel, stride, padding and pool are (time, height, width). ``padding`` is explicit zero padding
    (the time padding is always ``kernel[0] // 2`` so that T is preserved).
    """

    channels: int
    kernel: Triple
    stride: Triple = (1, 1, 1)
    padding: Triple = (1, 1, 1)
    batchnorm: bool = False
    dropout: float = 0.0
    pool: Triple = (1, 2, 2)


@dataclass(frozen=True)
class ModelConfig:
    """A LipNet-style network: 3D-conv front end, bidirectional recurrent layers, linear classifier.

    Attributes:
        name: preset name (or a user's own).
        frames, height, width, channels: the nominal input ``(T, H, W, C)``; T is not fixed at run time.
        frontend: the convolution blocks, in order.
        rnn: ``"gru"`` or ``"lstm"``.
        rnn_hidden: hidden units per direction.
        rnn_layers: number of bidirectional layers (their outputs are concatenated per frame).
        rnn_dropout: dropout after each recurrent layer (the notebook's ``Dropout(0.5)``).
        vocabulary: the output classes (blank = 0).
        batchnorm_eps: BatchNorm epsilon (PyTorch's default, kept by every backend).
        crop: which preprocessing the model expects: ``"lipnet"`` (RGB 100x50 mouth crop, per-clip
            standardised) or ``"notebook"`` (grey crop rows 190:236 cols 80:220, per-clip standardised).
        decoder: the CTC decoder the model's card recommends (a name of :data:`DECODERS`),
            used when the user chooses none; None: plain beam search. It says how the output is best read,
            not what the network is, so two configs that differ only here compare equal (a model fine-tuned
            from a shipped one has the same network).
    """

    name: str
    frames: int
    height: int
    width: int
    channels: int
    frontend: tuple[ConvBlock, ...]
    rnn: Literal["gru", "lstm"]
    rnn_hidden: int
    rnn_layers: int = 2
    rnn_dropout: float = 0.0
    vocabulary: Vocabulary = field(default=LIPNET_VOCABULARY)
    batchnorm_eps: float = 1e-5
    crop: Literal["lipnet", "notebook"] = "lipnet"
    decoder: str | None = field(default=None, compare=False)

    @property
    def num_classes(self) -> int:
        """V, the number of output classes (blank included)."""
        return self.vocabulary.size

    def feature_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the front end's output per frame, for the nominal input size."""
        h, w, c = self.height, self.width, self.channels
        for b in self.frontend:
            h = (h + 2 * b.padding[1] - b.kernel[1]) // b.stride[1] + 1
            w = (w + 2 * b.padding[2] - b.kernel[2]) // b.stride[2] + 1
            h, w, c = h // b.pool[1], w // b.pool[2], b.channels
        return c, h, w

    @property
    def feature_size(self) -> int:
        """Number of features per frame fed to the first recurrent layer."""
        c, h, w = self.feature_shape()
        return c * h * w

    def with_(self, **changes: Any) -> ModelConfig:
        """A copy with some fields changed (e.g. ``cfg.with_(rnn_hidden=64)`` for a small test model)."""
        return replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict (stored in checkpoints and ONNX metadata)."""
        d = asdict(self)
        d["vocabulary"] = self.vocabulary.to_json()
        d["frontend"] = [asdict(b) for b in self.frontend]
        return d

    def dumps(self) -> str:
        """:meth:`to_json` as a compact JSON string."""
        return json.dumps(self.to_json(), separators=(",", ":"))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_json`.

        Raises:
            ValueError: a field is missing or has the wrong type.
        """
        try:
            d = dict(data)
            d["vocabulary"] = Vocabulary.from_json(d["vocabulary"])
            d["frontend"] = tuple(
                ConvBlock(
                    channels=int(b["channels"]),
                    kernel=tuple(b["kernel"]),
                    stride=tuple(b["stride"]),
                    padding=tuple(b["padding"]),
                    batchnorm=bool(b["batchnorm"]),
                    dropout=float(b["dropout"]),
                    pool=tuple(b["pool"]),
                )
                for b in d["frontend"]
            )
            known = set(cls.__dataclass_fields__)
            unknown = set(d) - known
            if unknown:
                raise ValueError(f"unknown fields {sorted(unknown)}")
            cfg = cls(**d)
        except (KeyError, TypeError) as e:
            raise ValueError(f"not a valid model config: {e}") from None
        if cfg.rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', not {cfg.rnn!r}")
        if cfg.decoder is not None and cfg.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)} or null, not {cfg.decoder!r}")
        return cfg

    @classmethod
    def loads(cls, text: str) -> ModelConfig:
        """Inverse of :meth:`dumps`."""
        return cls.from_json(json.loads(text))


LIPNET = ModelConfig(
    name="lipnet",
    frames=75,
    height=50,
    width=100,
    channels=3,
    frontend=(
        ConvBlock(32, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2), batchnorm=True, dropout=0.5),
        ConvBlock(64, (3, 5, 5), padding=(1, 2, 2), batchnorm=True, dropout=0.5),
        ConvBlock(96, (3, 3, 3), padding=(1, 1, 1), batchnorm=True, dropout=0.5),
    ),
    rnn="gru",
    rnn_hidden=256,
    rnn_layers=2,
    vocabulary=LIPNET_VOCABULARY,
    crop="lipnet",
)
"""Assael et al. (2016): STCNN x3 (32/64/96) + 2 x BiGRU(256), 28 classes, input 75x50x100x3."""

LIPNET_NOTEBOOK = ModelConfig(
    name="lipnet-notebook",
    frames=75,
    height=46,
    width=140,
    channels=1,
    frontend=(
        ConvBlock(128, (3, 3, 3)),
        ConvBlock(256, (3, 3, 3)),
        ConvBlock(75, (3, 3, 3)),
    ),
    rnn="lstm",
    rnn_hidden=128,
    rnn_layers=2,
    rnn_dropout=0.5,
    vocabulary=NOTEBOOK_VOCABULARY,
    crop="notebook",
)
"""The seed notebook's model: Conv3D 128/256/75 (k=3, same) + 2 x BiLSTM(128) + Dropout(0.5), 41 classes,
input 75x46x140x1 (8,471,924 parameters in Keras)."""

PRESETS: dict[str, ModelConfig] = {c.name: c for c in (LIPNET, LIPNET_NOTEBOOK)}
"""The built-in presets by name."""


def get_preset(name: str) -> ModelConfig:
    """A preset by name (``"lipnet"`` or ``"lipnet-notebook"``).

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}") from None
