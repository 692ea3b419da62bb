"""Loading a model for inference: a shipped model's name, a canonical checkpoint or an exported ``.onnx`` file,
on the backend that can run it (:func:`load_model`), and the few models :class:`~lipread.api.Transcriber`
keeps loaded between calls."""

from __future__ import annotations

import inspect
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from ..backend import BUILTIN, Model, first_available, get_backend, resolve_backend_name
from ..errors import ArgumentError, BackendError, CheckpointError
from ..models import DEFAULT_MODEL, get_shipped, is_shipped

__all__ = ["PRECISIONS", "backend_for", "load_model", "with_precision"]

PRECISIONS = ("fp32", "int8")
"""The arithmetic a shipped model can run in: its float32 files, or an int8 ONNX export beside them."""


def _checkpoint_backend(path: Path, backend: str | None) -> str:
    if backend is None:
        try:
            return first_available(("torch", "tensorflow"))
        except BackendError:
            hint = " (only the onnx backend is installed)" if BUILTIN["onnx"].installed else ""
            raise BackendError(
                f"{path}: a checkpoint needs the torch or tensorflow backend{hint}: "
                'pip install "lipread[torch]" or "lipread[tf]", or pass an exported .onnx file instead'
            ) from None
    if backend == "onnx":
        raise BackendError(
            f"{path}: the onnx backend runs exported .onnx files, not checkpoints; export it with "
            "`lipread export` or use the torch or tensorflow backend"
        )
    return backend


def _resolve(model: str | os.PathLike[str], backend: str | None) -> tuple[Path, str]:
    """(file to load, backend name) for a shipped model name or a model file."""
    if not isinstance(model, (str, os.PathLike)):
        raise ArgumentError(f"model must be a shipped model name or a model file's path, not {type(model).__name__}")
    name = os.fspath(model)
    if not name.strip():
        raise ArgumentError("the model name is empty; give a shipped model name (lipnet-grid-s1) or a model file")
    backend = resolve_backend_name(backend) if backend else None
    if is_shipped(name):
        shipped = get_shipped(name)
        if backend is None:
            installed = [b for b in ("onnx", "torch", "tensorflow") if BUILTIN[b].installed]
            if not installed:
                first_available()  # raises, naming the extras that add a backend
            usable = [b for b in installed if shipped.has("onnx" if b == "onnx" else "checkpoint")]
            backend = (usable or installed)[0]
        return shipped.file("onnx" if backend == "onnx" else "checkpoint"), backend
    path = Path(name)
    try:
        exists = path.exists()
    except OSError as e:  # a name too long for the file system
        raise CheckpointError(f"{path}: cannot be a model file: {e.strerror or e}") from None
    if not exists:
        get_shipped(name)  # raises: neither a shipped name nor a file
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a model file")
    if path.suffix.lower() == ".onnx":
        if backend not in (None, "onnx"):
            raise BackendError(f"{path}: an .onnx file runs on the onnx backend, not on {backend!r}")
        return path, "onnx"
    from ..weights import read_metadata

    read_metadata(path)  # a CheckpointError now beats a backend error later
    return path, _checkpoint_backend(path, backend)


def backend_for(model: str | os.PathLike[str], backend: str | None = None) -> str:
    """The name of the backend :func:`load_model` would run ``model`` on (same arguments, same errors)."""
    return _resolve(model, backend)[1]


def with_precision(model: str | os.PathLike[str], precision: str) -> str | os.PathLike[str]:
    """The model file to load for ``precision``: ``model`` itself for ``"fp32"``; for ``"int8"``, the int8
    ONNX export of a shipped model, ``<name>.int8.onnx`` beside its other files (built with
    ``lipread export CHECKPOINT --quantize int8 --calibration CLIPS``, about twice as fast on a CPU).

    Raises:
        CheckpointError: ``"int8"`` for a model that is not a shipped name, or whose int8 file this
            installation does not have; an unknown precision.
    """
    if precision not in PRECISIONS:
        raise CheckpointError(f"unknown precision {precision!r}; use {' or '.join(PRECISIONS)}")
    name = os.fspath(model)
    if precision == "fp32":
        return model
    if not is_shipped(name):
        raise CheckpointError(
            f"{name}: int8 precision picks a shipped model's int8 file; for a model of your own, pass its int8 "
            "export (lipread export --quantize int8) as the model"
        )
    path = get_shipped(name).path("int8")
    if not path.is_file():
        raise CheckpointError(
            f"{path}: the int8 file of {name} is not in this installation; use fp32, or build it with "
            f"lipread export --quantize int8"
        )
    return path


ONNX_OPTIONS = frozenset({"threads", "device"})
"""What the onnx backend's ``load`` takes besides the path (named in the error for a checkpoint given them)."""


def load_model(model: str | os.PathLike[str] = DEFAULT_MODEL, backend: str | None = None, **opts: Any) -> Model:
    """Load a model for inference.

    Args:
        model: a shipped model name (``"lipnet-grid-s1"``), a canonical ``.safetensors`` checkpoint, or an
            exported ``.onnx`` file.
        backend: ``"onnx"``, ``"torch"``, ``"tensorflow"`` or None to choose: an ``.onnx`` file runs on
            onnx; a shipped model on onnx when ONNX Runtime is installed, else on torch, else tensorflow;
            a checkpoint on torch, else tensorflow.
        opts: passed to the backend's ``load`` (the onnx backend takes ``threads=`` and ``device=``).

    Returns:
        The backend's :class:`~lipread.backend.Model`.

    Raises:
        CheckpointError: the model file is missing (also from this installation, for a shipped model),
            or is not a lipread checkpoint / ONNX model.
        BackendError: the backend needed is not installed, cannot load this kind of file, or does not
            take one of ``opts``.
    """
    path, name = _resolve(model, backend)
    impl = get_backend(name)
    signature = inspect.signature(impl.load)
    try:
        signature.bind(path, **opts)
    except TypeError:
        taken = [p for p in signature.parameters.values() if p.kind == p.KEYWORD_ONLY or p.default is not p.empty]
        refused = sorted(set(opts) - {p.name for p in taken}) or sorted(opts)
        onnx_only = name != "onnx" and set(refused) <= ONNX_OPTIONS
        why = (
            " (options of the onnx backend, which reads .onnx models)"
            if onnx_only
            else f"; it takes {', '.join(p.name for p in taken) or 'none'}"
        )
        raise BackendError(
            f"{path}: the {name} backend reads this model and does not take the option(s) {', '.join(refused)}{why}"
        ) from None
    return impl.load(path, **opts)


_CACHE: OrderedDict[tuple[Any, ...], Model] = OrderedDict()
_CACHE_SIZE = 2
_CACHE_LOCK = threading.Lock()


def _cached_model(model: str | os.PathLike[str], backend: str | None, opts: dict[str, Any]) -> Model:
    """:func:`load_model`, remembering the last two models (a file's key includes its size and time). Threads
    share the cache (one at a time: two asking for one model load it once). A name no file can have, or an
    option value that cannot be a key, is not cached: :func:`load_model` says what is wrong with it."""
    name = os.fspath(model)
    try:
        info = None if is_shipped(name) else os.stat(name)
        key: tuple[Any, ...] | None = (name, info and (info.st_mtime_ns, info.st_size), backend, *sorted(opts.items()))
        hash(key)
    except (OSError, ValueError, TypeError):  # no such file (yet), a NUL byte, a list for an option
        key = None
    with _CACHE_LOCK:
        if key is not None and key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        loaded = load_model(model, backend, **opts)
        if key is not None:
            _CACHE[key] = loaded
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        return loaded
