"""The ``Backend`` and ``Model`` protocols, and the registry that finds backends.

Backends register in the entry-point group ``lipread.backends`` (name -> object with the
:class:`Backend` interface). The three that ship with lipread are also known here by name, so they are
found even when lipread runs from a source checkout. A backend module is imported only when asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .config import ModelConfig
from .errors import BackendError

if TYPE_CHECKING:
    import numpy as np  # annotations only: `import lipread` and the `lipread` command start without NumPy

    from .data.training import TrainOptions, TrainResult

__all__ = [
    "Backend",
    "BackendInfo",
    "Model",
    "available_backends",
    "backend_infos",
    "get_backend",
    "resolve_backend_name",
]

ENTRY_POINT_GROUP = "lipread.backends"


@runtime_checkable
class Model(Protocol):
    """A LipNet model in one backend.

    The tensor contract: frames ``float32 (B, T, H, W, C)`` channels last, ``lengths int32 (B,)`` valid
    frames per clip; out ``float32 (B, T, V)`` log-probabilities (log-softmax applied), blank = 0.
    Frames past a clip's length are ignored, and their output rows are unspecified.
    """

    config: ModelConfig
    backend: str

    def logprobs(self, frames: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Inference-mode log-probabilities ``float32 (B, T, V)`` for ``float32 (B, T, H, W, C)`` frames."""
        ...

    def state_dict(self) -> dict[str, np.ndarray]:
        """The weights under their canonical names and layouts, as float32 NumPy arrays."""
        ...

    def load_state_dict(self, tensors: dict[str, np.ndarray]) -> None:
        """Set the weights from canonical tensors. Raises CheckpointError on missing or misshapen ones."""
        ...


@runtime_checkable
class Backend(Protocol):
    """What a backend offers. ``capabilities`` is a subset of ``{"inference", "train", "export"}``."""

    name: str
    capabilities: frozenset[str]

    def build(self, config: ModelConfig, seed: int | None = None) -> Model:
        """A freshly initialised model for ``config``."""
        ...

    def load(self, path: str | os.PathLike[str]) -> Model:
        """A model from a canonical checkpoint (or, for ONNX Runtime, an exported ``.onnx`` file)."""
        ...

    def save(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Write ``model`` as a canonical checkpoint; ``metadata`` may hold ``trained_on`` and ``metrics``."""
        ...

    def train(self, options: TrainOptions) -> TrainResult:
        """Train as ``options`` say; returns where the checkpoints went and the final metrics."""
        ...

    def export_onnx(self, model: Model, path: str | os.PathLike[str]) -> Path:
        """Export ``model`` to ONNX with dynamic batch and time axes and lipread metadata."""
        ...


@dataclass(frozen=True)
class BackendInfo:
    """What the registry knows about a backend without importing it."""

    name: str
    module: str
    requires: tuple[str, ...]
    extra: str
    capabilities: tuple[str, ...]
    description: str

    @property
    def installed(self) -> bool:
        """Whether every module it needs can be found (nothing is imported to tell)."""
        return all(_module_exists(m) for m in self.requires)


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


BUILTIN: dict[str, BackendInfo] = {
    "onnx": BackendInfo(
        "onnx", "lipread.onnx.runtime", ("onnxruntime",), "onnx", ("inference",), "ONNX Runtime (CPU or CUDA)"
    ),
    "torch": BackendInfo(
        "torch", "lipread_torch", ("torch", "lipread_torch"), "torch", ("inference", "train", "export"), "PyTorch"
    ),
    "tensorflow": BackendInfo(
        "tensorflow",
        "lipread_tf",
        ("tensorflow", "lipread_tf"),
        "tf",
        ("inference", "train", "export"),
        "TensorFlow / Keras 3",
    ),
}
"""The backends that ship with lipread, in the order ``transcribe`` prefers them."""

ALIASES = {"pytorch": "torch", "tf": "tensorflow", "keras": "tensorflow", "onnxruntime": "onnx", "ort": "onnx"}

_loaded: dict[str, Backend] = {}


def resolve_backend_name(name: str) -> str:
    """The canonical name of a backend (``"tf"`` -> ``"tensorflow"``), in any case.

    Raises:
        BackendError: ``name`` is not a string.
    """
    if not isinstance(name, str):
        raise BackendError(f"a backend is named by a string such as 'onnx', not {type(name).__name__}")
    key = name.strip().lower()
    return ALIASES.get(key, key)


def _third_party() -> dict[str, Any]:
    from importlib.metadata import entry_points  # imported here: it costs a noticeable part of import time

    try:
        return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name not in BUILTIN}
    except Exception:  # a broken distribution's metadata must not break lipread
        return {}


def backend_infos() -> list[BackendInfo]:
    """Every backend lipread knows of, installed or not, built-in ones first."""
    infos = list(BUILTIN.values())
    for name, ep in sorted(_third_party().items()):
        module = ep.value.split(":")[0]
        infos.append(BackendInfo(name, module, (module.split(".")[0],), name, (), f"entry point {ep.value}"))
    return infos


def available_backends() -> list[str]:
    """Names of the installed backends, in order of preference (onnx, torch, tensorflow, then others)."""
    return [info.name for info in backend_infos() if info.installed]


def get_backend(name: str) -> Backend:
    """The backend called ``name`` (``"onnx"``, ``"torch"``, ``"tensorflow"`` or a registered one).

    Raises:
        BackendError: unknown, or not installed (the message says which ``pip install`` fixes it).
    """
    key = resolve_backend_name(name)
    if key in _loaded:
        return _loaded[key]
    if key in BUILTIN:
        info = BUILTIN[key]
        missing = [m for m in info.requires if not _module_exists(m)]
        if missing:
            raise BackendError(
                f'backend {key!r} is not installed (missing {", ".join(missing)}): pip install "lipread[{info.extra}]"'
            )
        try:
            module = importlib.import_module(info.module)
        except ImportError as e:
            if isinstance(e.__cause__, KeyboardInterrupt):  # Ctrl-C while an extension initialised: no bad install
                raise KeyboardInterrupt from None
            raise BackendError(
                f'backend {key!r} failed to import ({e}); reinstall it with: pip install "lipread[{info.extra}]"'
            ) from e
        backend = getattr(module, "backend", None)
        if backend is None:
            raise BackendError(
                f"backend {key!r}: module {info.module} defines no 'backend'; reinstall it with: "
                f'pip install "lipread[{info.extra}]"'
            )
    else:
        third = _third_party()
        if key not in third:
            known = sorted(set(BUILTIN) | set(third))
            raise BackendError(f"unknown backend {name!r}; known backends: {', '.join(known)}")
        try:
            backend = third[key].load()
        except ImportError as e:
            raise BackendError(f"backend {key!r} failed to import: {e}") from e
    _loaded[key] = backend
    return backend


def first_available(preference: Sequence[str] = ("onnx", "torch", "tensorflow"), need: str = "inference") -> str:
    """The first installed backend of ``preference`` that has capability ``need``.

    Raises:
        BackendError: none is installed (the message lists the extras that would add one).
    """
    for name in preference:
        info = BUILTIN.get(name)
        if info is not None and info.installed and need in info.capabilities:
            return name
    extras = " or ".join(f'"lipread[{BUILTIN[n].extra}]"' for n in preference if n in BUILTIN)
    raise BackendError(f"no backend that can do {need!r} is installed: pip install {extras}")
