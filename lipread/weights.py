"""The canonical checkpoint: one safetensors file of NumPy arrays plus JSON metadata.

Tensor names and layouts are those of ``lipread_torch``'s ``state_dict()``; every backend converts to and
from them. The metadata holds ``format`` (``"lipread"``), ``version``, ``config`` (a :class:`ModelConfig`),
``vocabulary``, ``trained_on`` and ``metrics``. Safetensors holds only raw arrays, so loading a checkpoint
can never run code.

A tensor is stored as float32, float16, or 16-bit fixed point (:mod:`lipread.fixed16`): ``int16`` values under
its own name and one power-of-two scale per index of its first axis, ``float32``, under ``<name>:scale``.
:func:`load_checkpoint` reads fixed-point tensors back as float32, so every reader sees canonical names only.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import json
import os
import zlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from .config import ModelConfig
from .errors import ArgumentError, CheckpointError
from .fixed16 import from_fixed16, to_fixed16
from .vocab import Vocabulary

__all__ = [
    "FORMAT",
    "SCALE_SUFFIX",
    "VERSION",
    "Checkpoint",
    "atomic_write",
    "leftover_temporaries",
    "load_checkpoint",
    "metadata_json",
    "read_metadata",
    "save_checkpoint",
    "writable_folder",
]

FORMAT = "lipread"
VERSION = 1
SCALE_SUFFIX = ":scale"
"""A fixed-point tensor ``name`` has its scales under ``name + SCALE_SUFFIX`` (no canonical name has a colon)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint.

    Attributes:
        config: the model's configuration.
        tensors: canonical name -> array (float32, or float16 when stored so; see ``as_float32``; tensors
            stored in fixed point are read back as float32).
        trained_on: free-form description of the training data (JSON object).
        metrics: measured metrics, e.g. ``{"val_wer_beam": 0.03}``.
    """

    config: ModelConfig
    tensors: dict[str, np.ndarray]
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    def as_float32(self) -> dict[str, np.ndarray]:
        """The tensors with every floating-point array cast to float32."""
        return {k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in self.tensors.items()}


def _explain(path: Path, e: OSError, folder: bool = False) -> OSError:
    """An OSError of ``e``'s kind that names ``path`` and says why it cannot be written, in words a user can act
    on (a file where a folder should be, a folder where a file should be, no permission, a full disk)."""
    code = e.errno
    if code in (errno.ENOTDIR, errno.EEXIST) or (code == errno.EISDIR and folder):
        for above in (path, *path.parents):
            if above.exists() and not above.is_dir():
                reason = "is a file, not a folder" if above == path else f"{above} is a file, not a folder"
                break
        else:
            reason = e.strerror or str(e)
    elif code == errno.EISDIR:
        reason = "is a folder; name a file to write"
    elif code in (errno.EACCES, errno.EPERM):
        reason = f"no permission to write in {path if folder else path.parent}"
    elif code == errno.ENOSPC:
        reason = "no space left on the device (free some space, or write elsewhere)"
    elif code == errno.EROFS:
        reason = "the file system is read-only"
    else:
        reason = e.strerror or str(e)
    return OSError(code, reason, str(path))


def writable_folder(path: str | os.PathLike[str]) -> Path:
    """Make the folder ``path`` (and its parents) if need be, and check that files can be written in it, so
    that a run fails at once, not after hours, when its output cannot be written.

    Raises:
        OSError: naming ``path`` and why (a file in the way, no permission, a full disk).
    """
    path = Path(path)
    probe = path / f".lipread-write-test{os.getpid()}"
    try:
        path.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as f:
            f.write(b"lipread")
    except OSError as e:
        raise _explain(path, e, folder=True) from None
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return path


def _temporary_prefix(path: Path) -> str:
    """The start of the names of :func:`atomic_write`'s temporary files for ``path`` (the process id follows).

    A short name, since the target's may already be as long as the file system allows: its start says what
    it is for, and a checksum of the whole name keeps two long names that start alike apart.
    """
    return f".{path.name[:40]}-{zlib.crc32(os.fsencode(path.name)):08x}.tmp"


def leftover_temporaries(path: str | os.PathLike[str]) -> list[Path]:
    """The temporary files that :func:`atomic_write` calls to ``path`` left behind (processes that were killed
    while writing), for a run that continues to delete."""
    path = Path(path)
    return sorted(path.parent.glob(glob.escape(_temporary_prefix(path)) + "*"))


def atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half.

    Writes a temporary file in the same folder, flushes it to disk, then renames it over ``path``.

    Raises:
        OSError: ``path`` cannot be written; it names ``path`` and why (a file where a folder should be, a
            folder, no permission, a full disk), and no temporary file is left behind.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _explain(path, e) from None
    tmp = path.with_name(f"{_temporary_prefix(path)}{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):  # e.g. ``path`` is a folder: leave no temporary file behind
            tmp.unlink()
        if isinstance(e, OSError):
            raise _explain(path, e) from None
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save_checkpoint(
    path: str | os.PathLike[str],
    tensors: dict[str, np.ndarray],
    config: ModelConfig,
    *,
    trained_on: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    dtype: str | None = None,
    fixed16: Collection[str] = (),
) -> Path:
    """Write a canonical checkpoint atomically.

    Args:
        path: destination ``.safetensors`` file.
        tensors: canonical name -> array.
        config: the model's configuration.
        trained_on: a description of the training data, stored as JSON in the metadata.
        metrics: measured metrics (e.g. ``{"val_wer_beam": 0.03}``), stored as JSON in the metadata.
        dtype: ``"float16"`` to store floating-point tensors at half precision (half the size),
            ``"float32"`` to store them at single precision, or None to keep them as given.
        fixed16: names of tensors to store in 16-bit fixed point instead (half the size of float32, and
            closer to it than float16; see :mod:`lipread.fixed16`), per index of their first axis.

    Returns:
        The path written.

    Raises:
        ArgumentError: ``trained_on`` or ``metrics`` is not a JSON object's worth of values, ``dtype`` is
            not float16 or float32, ``fixed16`` is one string or names a tensor the checkpoint lacks.
    """
    from safetensors.numpy import save

    if dtype not in (None, "float16", "float32"):
        raise ArgumentError(f"dtype must be 'float16', 'float32' or None, not {dtype!r}")
    if isinstance(fixed16, str):
        raise ArgumentError(f"fixed16 is a collection of tensor names, not one string: {fixed16!r}")
    unknown = sorted(set(fixed16) - set(tensors))
    if unknown:
        raise ArgumentError(f"fixed16 names tensors the checkpoint does not have: {unknown}")
    arrays = {}
    for name, value in tensors.items():
        a = np.ascontiguousarray(np.asarray(value))
        if name in fixed16:
            if a.dtype.kind != "f" or a.ndim == 0:
                raise ValueError(f"{name}: only floating-point arrays of 1 or more dimensions can be fixed point")
            a, arrays[name + SCALE_SUFFIX] = to_fixed16(a)
        elif dtype is not None and a.dtype.kind == "f":
            a = a.astype(dtype)
        arrays[name] = a
    metadata = {
        "format": FORMAT,
        "version": str(VERSION),
        "config": config.dumps(),
        "vocabulary": json.dumps(config.vocabulary.to_json()),
        "trained_on": metadata_json("trained_on", trained_on),
        "metrics": metadata_json("metrics", metrics),
    }
    atomic_write(path, save(arrays, metadata=metadata))
    return Path(path)


def metadata_json(name: str, value: Mapping[str, Any] | None) -> str:
    """``value`` (a checkpoint's or an exported model's ``trained_on`` or ``metrics``) as JSON text; None is
    ``{}``, NumPy numbers and arrays are written as the numbers they hold.

    Raises:
        ArgumentError: ``value`` is not a mapping, or holds something JSON cannot write (named by ``name``).
    """
    if value is None:
        return "{}"
    if not isinstance(value, Mapping):
        raise ArgumentError(f"{name} must be a dict (a JSON object), not {type(value).__name__}")

    def plain(item: object) -> object:
        if isinstance(item, (np.generic, np.ndarray)):
            return item.tolist()
        raise TypeError(type(item).__name__)

    try:
        return json.dumps(dict(value), default=plain, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise ArgumentError(f"{name} holds a value JSON cannot write ({e})") from None


def _header(path: Path) -> dict[str, Any]:
    """Parse a safetensors header without reading the tensors; CheckpointError if it is not one."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a lipread checkpoint (file is {size} bytes, too short)")
            n = int.from_bytes(head, "little")
            if n <= 0 or n > min(size - 8, 100_000_000):
                raise CheckpointError(f"{path}: not a lipread checkpoint (no safetensors header)")
            header = json.loads(f.read(n).decode("utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint file not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise CheckpointError(f"{path}: not a lipread checkpoint (unreadable safetensors header)") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: not a lipread checkpoint (unreadable safetensors header)")
    end = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            end = max(end, int(info["data_offsets"][1]))
        except (KeyError, TypeError, IndexError, ValueError, OverflowError):
            raise CheckpointError(f"{path}: corrupt safetensors header entry {name!r}") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: checkpoint is truncated ({size} bytes, header promises {8 + n + end})")
    return header


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The decoded lipread metadata of a checkpoint, without loading its tensors.

    Raises:
        CheckpointError: the file is missing, is not safetensors, is truncated, or lacks lipread metadata.
    """
    path = Path(path)
    meta = _header(path).get("__metadata__") or {}
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: a safetensors file, but not a lipread checkpoint (no 'format: lipread' metadata)"
        )
    try:
        version = int(meta.get("version", "0"))
    except (ValueError, TypeError, OverflowError):
        version = -1
    if version != VERSION:
        raise CheckpointError(
            f"{path}: lipread checkpoint version {meta.get('version')!r} is not supported (expected {VERSION})"
        )
    out: dict[str, Any] = {"format": FORMAT, "version": version}
    for key in ("config", "trained_on", "metrics"):
        try:
            out[key] = json.loads(meta.get(key, "{}"))
        except (ValueError, TypeError, RecursionError):
            raise CheckpointError(f"{path}: metadata field {key!r} is not valid JSON") from None
        if not isinstance(out[key], dict):
            raise CheckpointError(f"{path}: metadata field {key!r} is not a JSON object")
    try:
        out["config"] = ModelConfig.from_json(out["config"])
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: invalid model config in metadata: {e}") from None
    return out


def load_checkpoint(path: str | os.PathLike[str], expect: ModelConfig | None = None) -> Checkpoint:
    """Load a canonical checkpoint.

    Args:
        path: a ``.safetensors`` file written by :func:`save_checkpoint`.
        expect: if given, the checkpoint's config must equal it.

    Raises:
        CheckpointError: not a lipread checkpoint (random bytes, a pickle, another safetensors file),
            truncated, a config out of :data:`lipread.config.LIMITS` or other than ``expect``, or a tensor
            that is not floating point (int32, bool...: nothing is cast silently).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    meta = read_metadata(path)
    config: ModelConfig = meta["config"]
    if expect is not None and config != expect:
        differ = [f.name for f in fields(config) if f.compare and getattr(config, f.name) != getattr(expect, f.name)]
        what = ", ".join(_described(name, getattr(config, name), getattr(expect, name)) for name in differ)
        raise CheckpointError(
            f"{path}: holds model {config.name!r} with another configuration than expected ({expect.name!r}): {what}"
        )
    _check_dtypes(path, _header(path))
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path}: cannot read tensors: {e}") from None
    return Checkpoint(
        config=config, tensors=_read_fixed16(path, tensors), trained_on=meta["trained_on"], metrics=meta["metrics"]
    )


_FLOAT_DTYPES = {"F16": "float16", "F32": "float32", "F64": "float64"}
"""The safetensors dtypes a checkpoint's tensors may have (besides 16-bit fixed point), and their names."""
_DTYPE_NAMES = {
    "BF16": "bfloat16",
    "I16": "int16 without scales",
    "BOOL": "bool",
    **{f"{k}{n}": f"{v}{n}" for k, v in (("I", "int"), ("U", "uint")) for n in (8, 32, 64)},
    "U16": "uint16",
    "F8_E4M3": "float8",
    "F8_E5M2": "float8",
}
"""Names of the safetensors dtypes a checkpoint may not hold, as NumPy spells them."""
_COUNTER_SUFFIX = ".num_batches_tracked"
"""PyTorch's BatchNorm counters (integers, ignored by every backend) may be stored as they are."""


def _check_dtypes(path: Path, header: dict[str, Any]) -> None:
    """CheckpointError unless every tensor in ``header`` is floating point (float16, float32, float64), int16
    with ``:scale`` (16-bit fixed point), or a BatchNorm counter: nothing is cast silently."""
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info.get("dtype") if isinstance(info, dict) else None
        if dtype in _FLOAT_DTYPES or (dtype == "I16" and name + SCALE_SUFFIX in header):
            continue
        if name.endswith(_COUNTER_SUFFIX) and dtype in ("I64", "I32"):
            continue
        shown = _DTYPE_NAMES.get(str(dtype), repr(dtype))
        raise CheckpointError(
            f"{path}: tensor {name!r} is stored as {shown}; a lipread checkpoint holds float32, float16 or float64 "
            f"tensors (or 16-bit fixed point written by lipread): save the weights as float32"
        )


def _read_fixed16(path: Path, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``tensors`` with each fixed-point tensor and its ``:scale`` replaced by its float32 values."""
    out = {}
    for name, value in tensors.items():
        if name.endswith(SCALE_SUFFIX):
            if name[: -len(SCALE_SUFFIX)] not in tensors:
                raise CheckpointError(f"{path}: {name!r} scales a tensor the checkpoint does not have")
            continue
        scale = tensors.get(name + SCALE_SUFFIX)
        if scale is not None:
            fits = value.dtype == np.int16 and value.ndim > 0 and scale.shape == value.shape[:1]
            if not fits or scale.dtype != np.float32:
                raise CheckpointError(
                    f"{path}: fixed-point tensor {name!r} must be int16 with float32 scales of shape "
                    f"{value.shape[:1]}; found {value.dtype} {value.shape} and {scale.dtype} {scale.shape}"
                )
            value = from_fixed16(value, scale)
        out[name] = value
    return out


def _described(name: str, held: object, expected: object) -> str:
    """One difference between two model configs, in words: a vocabulary by its size and characters."""
    if isinstance(held, Vocabulary) and isinstance(expected, Vocabulary):
        return (
            f"vocabulary of {len(held.characters)} characters {''.join(held.characters)!r}, not "
            f"{len(expected.characters)} {''.join(expected.characters)!r}"
        )
    return f"{name} {held!r}, not {expected!r}"
