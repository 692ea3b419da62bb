"""Model configurations: a JSON-serialisable description of a LipNet network, and the presets.

A :class:`ModelConfig` is everything a backend needs to build a model; the same config builds the same
network (same parameter names and shapes) in PyTorch and TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args, get_type_hints

from .vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary

__all__ = ["DECODERS", "LIMITS", "MAX_BEAM_WIDTH", "PRESETS", "ConvBlock", "ModelConfig", "get_preset"]

DECODERS = ("greedy", "beam", "lexicon", "grammar")
"""The CTC decoders a model may name (:attr:`ModelConfig.decoder`), all implemented in :mod:`lipread.decoding`
(:func:`lipread.decoding.decoders.make_decoder`). The names are part of a model file's metadata, so they live
here, with the rest of what a model file says."""

Triple = tuple[int, int, int]

MAX_BEAM_WIDTH = 1000
"""The widest beam a decoder is made with: a beam of width ``W`` holds up to ``W`` prefixes per frame (a
clip's search allocates about ``T * W * V`` trie slots: some 26 MB for a 3 s clip at width 1,000, 400 MB at
10,000), and beyond a few hundred the results no longer change."""

LIMITS: dict[str, int] = {
    "frames": 10_000,
    "size": 1024,
    "input_channels": 4,
    "blocks": 16,
    "channels": 2048,
    "kernel": 15,
    "rnn_hidden": 4096,
    "rnn_layers": 16,
    "classes": 4096,
    "features": 1 << 20,
    "parameters": 200_000_000,
    "words": 1_000_000,
}
"""The largest sizes a model config may have (:meth:`ModelConfig.validate`): input frames, height and width,
input channels, convolution blocks, channels per block, kernel / stride / padding / pool per axis, recurrent
units per direction, recurrent layers, output classes, features per frame, parameters in all (200 million
float32 parameters are 800 MB), and the words of its word list. A config beyond them is refused before any
backend builds anything."""


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
            standardised), ``"aligned"`` (the same size, cut from the face aligned to a mean face by its
            landmarks: :class:`lipread.video.mouth.AlignedMouthLocator`) or ``"notebook"`` (grey crop rows
            190:236 cols 80:220, per-clip standardised).
        decoder: the CTC decoder the model's card recommends (a name of :data:`DECODERS`),
            used when the user chooses none; None: plain beam search. It says how the output is best read,
            not what the network is, so two configs that differ only here compare equal (a model fine-tuned
            from a shipped one has the same network).
        words: the words of the texts the model was trained on, in code point order
            (:func:`lipread.data.alphabet.word_list`), the ``lexicon`` decoder's word list when the user gives
            none; None: no list (the lexicon decoder then reads the GRID words). Like ``decoder`` it is not
            part of the network and is left out of comparisons.
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
    crop: Literal["lipnet", "aligned", "notebook"] = "lipnet"
    decoder: str | None = field(default=None, compare=False)
    words: tuple[str, ...] | None = field(default=None, compare=False)

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
        if not isinstance(data, Mapping):
            raise ValueError(f"not a valid model config: a JSON object of fields, not {type(data).__name__}")
        try:
            d = dict(data)
            d["vocabulary"] = Vocabulary.from_json(d["vocabulary"])
            if isinstance(d.get("words"), list):
                d["words"] = tuple(d["words"])
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
        except KeyError as e:
            raise ValueError(f"not a valid model config: the field {e.args[0]!r} is missing") from None
        except (TypeError, AttributeError, OverflowError) as e:
            raise ValueError(f"not a valid model config: {e}") from None
        cfg.validate()
        return cfg

    def parameter_count(self) -> int:
        """The number of parameters the network has (convolutions, BatchNorm, recurrent layers, classifier),
        computed from the config alone, before anything is built."""
        count, c_in = 0, self.channels
        for b in self.frontend:
            count += c_in * b.channels * b.kernel[0] * b.kernel[1] * b.kernel[2] + b.channels
            count += 4 * b.channels if b.batchnorm else 0
            c_in = b.channels
        gates = 3 if self.rnn == "gru" else 4
        h, size = self.rnn_hidden, self.feature_size
        for _ in range(self.rnn_layers):
            count += 2 * gates * h * (size + h + 2)
            size = 2 * h
        return count + size * self.num_classes + self.num_classes

    def validate(self) -> None:
        """Check that the config describes a network that can be built, with sizes within lipread's limits
        (:data:`LIMITS`), before any backend builds anything.

        Raises:
            ValueError: the first field out of range, naming the field, its value and the limit.
        """

        def whole(name: str, value: object, low: int, high: int) -> int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number from {low} to {high}, not {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} is {value}; it must be from {low} to {high}")
            return value

        def fraction(name: str, value: object, low: float, high: float, closed: bool) -> None:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and (low <= value <= high if closed else low <= value < high)  # type: ignore[operator]
            if not ok:
                bound = "]" if closed else ")"
                raise ValueError(f"{name} is {value!r}; it must be a number in [{low}, {high}{bound}")

        if not isinstance(self.name, str):
            raise ValueError(f"name must be a string, not {self.name!r}")
        whole("frames", self.frames, 1, LIMITS["frames"])
        whole("height", self.height, 1, LIMITS["size"])
        whole("width", self.width, 1, LIMITS["size"])
        whole("channels", self.channels, 1, LIMITS["input_channels"])
        if not isinstance(self.frontend, tuple) or not 1 <= len(self.frontend) <= LIMITS["blocks"]:
            raise ValueError(f"frontend must have 1 to {LIMITS['blocks']} convolution blocks")
        for i, b in enumerate(self.frontend):
            whole(f"frontend[{i}].channels", b.channels, 1, LIMITS["channels"])
            for part, low in (("kernel", 1), ("stride", 1), ("padding", 0), ("pool", 1)):
                triple = getattr(b, part)
                if not isinstance(triple, tuple) or len(triple) != 3:
                    raise ValueError(f"frontend[{i}].{part} must be 3 whole numbers, not {triple!r}")
                for axis, v in zip(("time", "height", "width"), triple):
                    whole(f"frontend[{i}].{part} ({axis})", v, low, LIMITS["kernel"])
            fraction(f"frontend[{i}].dropout", b.dropout, 0.0, 1.0, closed=False)
        if self.rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', not {self.rnn!r}")
        whole("rnn_hidden", self.rnn_hidden, 1, LIMITS["rnn_hidden"])
        whole("rnn_layers", self.rnn_layers, 1, LIMITS["rnn_layers"])
        fraction("rnn_dropout", self.rnn_dropout, 0.0, 1.0, closed=False)
        whole("the vocabulary's size", self.num_classes, 2, LIMITS["classes"])
        if not (isinstance(self.batchnorm_eps, (int, float)) and 0 < self.batchnorm_eps <= 1):
            raise ValueError(f"batchnorm_eps is {self.batchnorm_eps!r}; it must be a number in (0, 1]")
        crops = get_args(get_type_hints(ModelConfig)["crop"])  # the names the ``crop`` field's type allows
        if self.crop not in crops:
            raise ValueError(f"crop must be one of {', '.join(crops)}, not {self.crop!r}")
        if self.decoder is not None and self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)} or null, not {self.decoder!r}")
        if self.words is not None:
            if not isinstance(self.words, tuple) or len(self.words) > LIMITS["words"]:
                raise ValueError(f"words must be a list of at most {LIMITS['words']} words or null")
            for word in self.words:
                if not isinstance(word, str) or word.split() != [word]:
                    raise ValueError(f"words must be words without spaces, not {word!r}")
        c, h, w = self.feature_shape()
        if h < 1 or w < 1:
            raise ValueError(
                f"the convolutions leave no pixels of a {self.height}x{self.width} input ({h}x{w} after the front end)"
            )
        whole("the features per frame (after the front end)", c * h * w, 1, LIMITS["features"])
        whole("the parameter count", self.parameter_count(), 1, LIMITS["parameters"])

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
"""The LipNet notebook's model: Conv3D 128/256/75 (k=3, same) + 2 x BiLSTM(128) + Dropout(0.5), 41 classes,
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
