"""Model configurations: a JSON-serialisable description of a LipNet network, and the presets.

A :class:`ModelConfig` is everything a backend needs to build a model; the same config builds the same
network (same parameter names and shapes) in PyTorch and TensorFlow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args, get_type_hints

from .errors import ArgumentError
from .vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary, get_vocabulary

__all__ = [
    "DECODERS",
    "DEFAULT_BATCH_SIZE",
    "LIMITS",
    "MAX_BEAM_WIDTH",
    "PRESETS",
    "ConvBlock",
    "ModelConfig",
    "get_preset",
]

DECODERS = ("greedy", "beam", "lexicon", "grammar")
"""The CTC decoders a model may name (:attr:`ModelConfig.decoder`), all implemented in :mod:`lipread.decoding`
(:func:`lipread.decoding.decoders.make_decoder`). The names are part of a model file's metadata, so they live
here, with the rest of what a model file says."""

Triple = tuple[int, int, int]

DEFAULT_BATCH_SIZE = 1
"""Clips (or windows of a long clip) per forward pass, by default, of :func:`lipread.transcribe`, a
:class:`~lipread.api.Transcriber`, ``lipread transcribe`` and ``lipread eval``. On a CPU a larger batch costs
more per clip, not less (the shipped int8 model, one thread: 34 ms a clip alone, 42 ms in a batch of 8; float32
61 to 71 ms either way), and each clip of a batch adds about 80 MB (a 3 s clip) to the peak memory, so that a
folder of any size stays within 400 MB on two cores (the throughput benchmark measures it). On a GPU a larger
batch pays."""

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


def _block(index: int, data: object) -> ConvBlock:
    """A :class:`ConvBlock` from its JSON object: ``channels`` and ``kernel`` required, the rest defaulting as
    :class:`ConvBlock` does; values are kept as given (a wrong type is refused by :meth:`ModelConfig.validate`),
    lists becoming tuples."""
    if not isinstance(data, Mapping):
        raise ValueError(f"frontend[{index}] must be a JSON object, not {type(data).__name__}")
    known = {f.name for f in fields(ConvBlock)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"frontend[{index}] has unknown fields {unknown}")
    for name in ("channels", "kernel"):
        if name not in data:
            raise ValueError(f"frontend[{index}] lacks its {name!r}")
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    return ConvBlock(**values)


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
        """A copy with some fields changed (e.g. ``cfg.with_(rnn_hidden=64)`` for a small test model); a
        ``frontend`` given as a list becomes a tuple.

        Raises:
            ArgumentError: a name that is not a field.
        """
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ArgumentError(f"ModelConfig has no field {unknown[0]!r}")
        if isinstance(changes.get("frontend"), list):
            changes["frontend"] = tuple(changes["frontend"])
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
            vocabulary = d["vocabulary"]  # a built-in one by name, or its characters
            d["vocabulary"] = (
                get_vocabulary(vocabulary) if isinstance(vocabulary, str) else Vocabulary.from_json(vocabulary)
            )
            if isinstance(d.get("words"), list):
                d["words"] = tuple(d["words"])
            if not isinstance(d["frontend"], list):
                raise ValueError(f"frontend must be a list of blocks, not {type(d['frontend']).__name__}")
            d["frontend"] = tuple(_block(i, b) for i, b in enumerate(d["frontend"]))
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
            got = f"not {len(self.frontend)}" if isinstance(self.frontend, tuple) else "as a tuple"
            got += "" if isinstance(self.frontend, tuple) else f", not a {type(self.frontend).__name__}"
            raise ValueError(f"frontend must have 1 to {LIMITS['blocks']} convolution blocks, {got}")
        for i, b in enumerate(self.frontend):
            if not isinstance(b, ConvBlock):
                raise ValueError(f"frontend[{i}] must be a ConvBlock, not {type(b).__name__}")
            whole(f"frontend[{i}].channels", b.channels, 1, LIMITS["channels"])
            for part, low in (("kernel", 1), ("stride", 1), ("padding", 0), ("pool", 1)):
                triple = getattr(b, part)
                if not isinstance(triple, tuple) or len(triple) != 3:
                    raise ValueError(f"frontend[{i}].{part} must be 3 whole numbers, not {triple!r}")
                for axis, v in zip(("time", "height", "width"), triple):
                    whole(f"frontend[{i}].{part} ({axis})", v, low, LIMITS["kernel"])
            fraction(f"frontend[{i}].dropout", b.dropout, 0.0, 1.0, closed=False)
            if not isinstance(b.batchnorm, bool):
                raise ValueError(f"frontend[{i}].batchnorm must be true or false, not {b.batchnorm!r}")
            k, pad, stride, pool = b.kernel[0], b.padding[0], b.stride[0], b.pool[0]
            if k % 2 == 0 or pad != k // 2 or stride != 1 or pool != 1:  # every frame gets its own output
                raise ValueError(
                    f"frontend[{i}] must keep the number of frames (CTC emits one label per frame): an odd kernel "
                    f"in time with padding kernel // 2, and stride and pool 1 in time; got kernel {k}, padding "
                    f"{pad}, stride {stride}, pool {pool}"
                )
        if self.rnn not in ("gru", "lstm"):
            raise ValueError(f"rnn must be 'gru' or 'lstm', not {self.rnn!r}")
        whole("rnn_hidden", self.rnn_hidden, 1, LIMITS["rnn_hidden"])
        whole("rnn_layers", self.rnn_layers, 1, LIMITS["rnn_layers"])
        fraction("rnn_dropout", self.rnn_dropout, 0.0, 1.0, closed=False)
        if not isinstance(self.vocabulary, Vocabulary):
            raise ValueError(f"vocabulary must be a Vocabulary, not {type(self.vocabulary).__name__}")
        whole("the vocabulary's size", self.num_classes, 2, LIMITS["classes"])
        eps = self.batchnorm_eps
        if isinstance(eps, bool) or not (isinstance(eps, (int, float)) and 0 < eps <= 1):
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
    """A preset by name (``"lipnet"`` or ``"lipnet-notebook"``), in any case.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    try:
        return PRESETS[name.strip().lower() if isinstance(name, str) else name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown model preset {name!r}; known: {sorted(PRESETS)}") from None
