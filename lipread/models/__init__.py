"""The models that ship inside the lipread package, so that transcription needs no download.

Each shipped model is four files in this folder: ``<name>.onnx`` (for the ONNX Runtime backend),
``<name>.safetensors`` (the canonical checkpoint, for PyTorch and TensorFlow), ``<name>.int8.onnx`` (its int8
export, which ``--precision int8`` runs) and ``<name>.md`` (its model card: training data and licence, how it
was trained, measured accuracy, what it can and cannot read).
The face detector the default mouth locator uses (``face_detection_short_range.tflite``) and the face-mesh
landmark model of the aligned crop (``face_landmark.onnx``) live here too, each with its licence.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import CheckpointError

__all__ = ["DEFAULT_MODEL", "SHIPPED", "ShippedModel", "get_shipped", "is_shipped", "source_checkpoint"]

FOLDER = Path(__file__).resolve().parent
"""Where the shipped model files live."""

FileKind = Literal["onnx", "checkpoint", "int8", "card"]
_SUFFIX: dict[FileKind, str] = {"onnx": ".onnx", "checkpoint": ".safetensors", "int8": ".int8.onnx", "card": ".md"}


@dataclass(frozen=True)
class ShippedModel:
    """A model shipped with lipread: its name, what it is, and its files in :data:`FOLDER`."""

    name: str
    description: str

    def path(self, kind: FileKind) -> Path:
        """Where the ``"onnx"`` model, ``"checkpoint"``, ``"int8"`` ONNX model or model ``"card"`` file belongs (it
        may be missing)."""
        return FOLDER / f"{self.name}{_SUFFIX[kind]}"

    def has(self, kind: FileKind) -> bool:
        """Whether that file is present in this installation."""
        return self.path(kind).is_file()

    def file(self, kind: FileKind) -> Path:
        """The path of that file.

        Raises:
            CheckpointError: the model is not part of this build, or this file of it is missing.
        """
        p = self.path(kind)
        if p.is_file():
            return p
        if not any(self.has(k) for k in _SUFFIX):
            raise CheckpointError(
                f"shipped model {self.name!r} is not part of this build of lipread (no {self.name}.* files in "
                f"{FOLDER}); pass a checkpoint or .onnx file as the model, e.g. one trained with `lipread train`"
            )
        raise CheckpointError(
            f"{p}: the {kind} file of shipped model {self.name!r} is missing from this installation "
            "(reinstall lipread, or pass a checkpoint or .onnx file as the model)"
        )


SHIPPED: dict[str, ShippedModel] = {
    m.name: m
    for m in (
        ShippedModel(
            "lipnet-grid-s1",
            "LipNet trained on GRID speaker 1; reads GRID-grammar sentences of that speaker only",
        ),
    )
}
"""The shipped models by name."""

DEFAULT_MODEL = "lipnet-grid-s1"
"""The model :func:`lipread.transcribe` uses when none is named."""


def is_shipped(name: str) -> bool:
    """Whether ``name`` names a shipped model."""
    return name in SHIPPED


def get_shipped(name: str) -> ShippedModel:
    """The shipped model called ``name``.

    Raises:
        CheckpointError: no shipped model has that name (the message lists those that exist).
    """
    try:
        return SHIPPED[name]
    except KeyError:
        raise CheckpointError(
            f"{name}: neither a shipped model ({', '.join(sorted(SHIPPED))}) nor an existing file"
        ) from None


def source_checkpoint(source: str | os.PathLike[str], use: str = "be fine-tuned") -> Path:
    """The canonical checkpoint ``source`` names (``--from``, ``lipread export``'s argument): a shipped
    model's, or a ``.safetensors`` file.

    Args:
        use: what the checkpoint is for, as the refusal of an ONNX file says it: "an ONNX model cannot <use>".

    Raises:
        CheckpointError: neither a shipped model nor an existing checkpoint; an ONNX file (which holds no
            canonical weights).
    """
    source = os.fspath(source)
    path = Path(source)
    if path.suffix.lower() == ".onnx":
        raise CheckpointError(f"{source}: an ONNX model cannot {use}; give its .safetensors checkpoint instead")
    if path.is_file():
        return path
    if is_shipped(source) or (os.sep not in source and not path.suffix):
        return get_shipped(source).file("checkpoint")
    raise CheckpointError(f"{source}: checkpoint not found")
