"""lipread: sentence-level lip reading (LipNet) with PyTorch, TensorFlow and ONNX Runtime backends.

>>> import lipread
>>> lipread.transcribe("clip.mpg").text  # doctest: +SKIP
'bin blue at f two now'

``import lipread`` imports no deep-learning framework; a backend is imported when it is first used.
"""

from __future__ import annotations

from .backend import Backend, Model, available_backends, get_backend
from .config import PRESETS, ModelConfig, get_preset
from .errors import AlignmentError, BackendError, CheckpointError, DataError, DecodingError, LipreadError, VideoError
from .vocab import LIPNET_VOCABULARY, NOTEBOOK_VOCABULARY, Vocabulary

__version__ = "0.1.0"

__all__ = [
    "LIPNET_VOCABULARY",
    "NOTEBOOK_VOCABULARY",
    "PRESETS",
    "AlignmentError",
    "Backend",
    "BackendError",
    "CheckpointError",
    "DataError",
    "DecodingError",
    "LipreadError",
    "Model",
    "ModelConfig",
    "VideoError",
    "Vocabulary",
    "__version__",
    "available_backends",
    "get_backend",
    "get_preset",
]
