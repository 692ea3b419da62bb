"""lipread: sentence-level lip reading (LipNet) with PyTorch, TensorFlow and ONNX Runtime backends.

Examples:
    Read the demo clip that ships with the package (GRID speaker 1, a clip the shipped model never trained on):

    >>> import lipread
    >>> lipread.transcribe(lipread.demo_clip()).text  # doctest: +SKIP
    'place blue at p one again'

``import lipread`` imports no deep-learning framework; a backend is imported when it is first used.

The package has one folder per stage: :mod:`lipread.video` (file to model input), :mod:`lipread.decoding`
(log-probabilities to text), :mod:`lipread.data` (the corpus and what trainers share), :mod:`lipread.onnx`
(the ONNX Runtime backend and exported files), :mod:`lipread.transcription` (what
:func:`~lipread.api.transcribe` runs) and :mod:`lipread.cli` (the ``lipread`` command). The top-level modules
are the front door (:mod:`lipread.api`) and the contracts every folder shares: errors, vocabularies,
configurations, checkpoints and backends.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .backend import Backend, Model, available_backends, get_backend
from .config import PRESETS, ModelConfig, get_preset
from .errors import (
    AlignmentError,
    ArgumentError,
    BackendError,
    CheckpointError,
    DataError,
    DecodingError,
    LipreadError,
    VideoError,
)
from .vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary

if TYPE_CHECKING:
    from .api import Transcriber, Transcript, load_model, transcribe
    from .data.demo import demo_clip

__version__ = "0.1.0"

_LAZY = {
    "transcribe": "api",
    "load_model": "api",
    "Transcript": "api",
    "Transcriber": "api",
    "demo_clip": "data.demo",
}
"""Names imported on first use, so that ``import lipread`` stays light."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "LIPNET_VOCABULARY",
    "NOTEBOOK_VOCABULARY",
    "PRESETS",
    "AlignmentError",
    "ArgumentError",
    "Backend",
    "BackendError",
    "CheckpointError",
    "DataError",
    "DecodingError",
    "LipreadError",
    "Model",
    "ModelConfig",
    "Transcriber",
    "Transcript",
    "VideoError",
    "Vocabulary",
    "__version__",
    "available_backends",
    "demo_clip",
    "get_backend",
    "get_preset",
    "load_model",
    "transcribe",
]
