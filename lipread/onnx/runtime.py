"""The ONNX Runtime inference backend: runs any ``.onnx`` model exported by the PyTorch or TensorFlow backend.

The model's configuration and vocabulary come from its lipread metadata (:mod:`lipread.onnx.metadata`). The
CUDA execution provider is used only when ONNX Runtime offers it *and* it can actually load on this machine
(its provider library and the CUDA runtime are found and a CUDA device is present); otherwise the CPU
provider is used, without ONNX Runtime's CUDA warnings. Inference only: training and export raise
:class:`~lipread.errors.BackendError`.
"""

from __future__ import annotations

import ctypes
import functools
import numbers
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import onnxruntime as ort

from ..config import ModelConfig
from ..errors import BackendError, CheckpointError
from ..model_input import checked_input
from .metadata import INPUT_FRAMES, INPUT_LENGTHS, OUTPUT, parse_metadata

if TYPE_CHECKING:
    from ..backend import Model
    from ..data.training import TrainOptions, TrainResult

__all__ = ["OnnxBackend", "OnnxModel", "backend", "cuda_usable"]

Device = Literal["auto", "cpu", "cuda"]

_CUDA = "CUDAExecutionProvider"
_CPU = "CPUExecutionProvider"
_LOG_ERROR = 3  # ONNX Runtime severity: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal

if sys.platform == "win32":
    _PROVIDER_LIB = "onnxruntime_providers_cuda.dll"
    _CUDART = ("cudart64_13.dll", "cudart64_12.dll", "cudart64_110.dll")
    _CUBLAS = ("cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll")
else:
    _PROVIDER_LIB = "libonnxruntime_providers_cuda.so"
    _CUDART = ("libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0", "libcudart.so")
    _CUBLAS = ("libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so")


def _nvidia_wheel_dirs() -> list[Path]:
    """Library folders of NVIDIA's pip wheels (``site-packages/nvidia/*/lib``), where CUDA often lives."""
    dirs: list[Path] = []
    for entry in sys.path:
        root = Path(entry or ".") / "nvidia"
        if root.is_dir():
            dirs += sorted(p for p in root.glob("*/lib") if p.is_dir())
            dirs += sorted(p for p in root.glob("*/bin") if p.is_dir())
    return dirs


def _load_library(names: tuple[str, ...]) -> ctypes.CDLL | None:
    """The first of ``names`` that the dynamic loader (or an NVIDIA wheel folder) can open, else None."""
    mode = getattr(ctypes, "RTLD_GLOBAL", 0)
    for name in names:
        candidates = [name] + [str(d / name) for d in _nvidia_wheel_dirs() if (d / name).exists()]
        for candidate in candidates:
            try:
                return ctypes.CDLL(candidate, mode=mode)
            except OSError:
                continue
    return None


@functools.lru_cache(maxsize=1)
def cuda_usable() -> bool:
    """Whether ONNX Runtime's CUDA execution provider can run here.

    True only when the installed ONNX Runtime offers ``CUDAExecutionProvider``, its provider library is
    present, the CUDA runtime and cuBLAS libraries load, and the runtime reports at least one CUDA device.
    Nothing is printed either way. The answer is computed once per process.
    """
    if _CUDA not in ort.get_available_providers():
        return False
    provider = Path(ort.__file__).parent / "capi" / _PROVIDER_LIB
    if not provider.exists():
        return False
    cudart = _load_library(_CUDART)
    if cudart is None or _load_library(_CUBLAS) is None:
        return False
    count = ctypes.c_int(0)
    try:
        status = cudart.cudaGetDeviceCount(ctypes.byref(count))
    except AttributeError:
        return False
    if status != 0 or count.value < 1:
        return False
    try:  # resolves the provider's remaining dependencies (cuDNN, cuFFT, ...) without ONNX Runtime's warnings
        ctypes.CDLL(str(provider), mode=getattr(ctypes, "RTLD_GLOBAL", 0))
    except OSError:
        return False
    return True


def _providers(device: Device) -> list[str]:
    if device == "cpu":
        return [_CPU]
    if device == "cuda":
        if not cuda_usable():
            raise BackendError(
                "the ONNX Runtime CUDA provider cannot run here (it needs a CUDA device, the CUDA 12 runtime "
                'and cuDNN, and the GPU build of ONNX Runtime: pip install "lipread[onnx-gpu]")'
            )
        return [_CUDA, _CPU]
    if device == "auto":
        return [_CUDA, _CPU] if cuda_usable() else [_CPU]
    raise BackendError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")


def _fail(path: Path, error: Exception) -> CheckpointError:
    text = str(error).strip().splitlines()
    detail = text[0] if text else type(error).__name__
    return CheckpointError(f"{path}: not a loadable ONNX model ({detail})")


class OnnxModel:
    """A lipread model running in an ONNX Runtime session.

    Attributes:
        config: the model configuration, from the file's metadata.
        backend: ``"onnx"``.
        path: the ``.onnx`` file.
        providers: the execution providers the session uses, e.g. ``["CPUExecutionProvider"]``.
        trained_on, metrics: the metadata the exporter stored.

    ``state_dict`` and ``load_state_dict`` raise :class:`~lipread.errors.BackendError`: an exported graph
    holds its weights in backend-specific, possibly fused form rather than under the canonical names.
    """

    backend = "onnx"

    def __init__(
        self,
        session: ort.InferenceSession,
        config: ModelConfig,
        path: Path,
        trained_on: dict[str, Any],
        metrics: dict[str, Any],
    ) -> None:
        self._session = session
        self.config = config
        self.path = path
        self.trained_on = trained_on
        self.metrics = metrics
        self.providers: list[str] = list(session.get_providers())

    def logprobs(self, frames: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Log-probabilities ``float32 (B, T, V)`` of ``float32 (B, T, H, W, C)`` frames.

        Args:
            frames: model input (see :func:`lipread.video.preprocess.preprocess`), H, W and C as in ``config``.
            lengths: ``int (B,)`` valid frames per clip; default T for every clip.

        Raises:
            VideoError: the frames or lengths have the wrong shape.
        """
        x, n = checked_input(self.config, frames, lengths)
        if len(x) == 0:  # ONNX Runtime's reshapes cannot take an empty batch
            return np.zeros((0, x.shape[1], self.config.num_classes), np.float32)
        out = self._session.run([OUTPUT], {INPUT_FRAMES: x, INPUT_LENGTHS: n})[0]
        return np.asarray(out, dtype=np.float32)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Not available for ONNX models; raises BackendError."""
        raise BackendError(
            f"{self.path}: an ONNX model does not expose canonical weights; load the model's .safetensors "
            "checkpoint with the torch or tensorflow backend instead"
        )

    def load_state_dict(self, tensors: dict[str, np.ndarray]) -> None:
        """Not available for ONNX models; raises BackendError."""
        raise BackendError(
            f"{self.path}: weights of an ONNX model cannot be replaced; load the checkpoint with the torch or "
            "tensorflow backend and export it again"
        )


class OnnxBackend:
    """The ``onnx`` backend: loads exported ``.onnx`` files for inference."""

    name = "onnx"
    capabilities = frozenset({"inference"})

    def load(self, path: str | os.PathLike[str], threads: int | None = None, device: Device = "auto") -> OnnxModel:
        """An exported model, ready for inference.

        Args:
            path: a ``.onnx`` file written by ``lipread export`` (any backend).
            threads: intra-op threads (None: ONNX Runtime's default, one per physical core).
            device: ``"auto"`` (CUDA when usable, else CPU), ``"cpu"`` or ``"cuda"``.

        Raises:
            CheckpointError: the file is missing, not ONNX, truncated, lacks lipread metadata, or does not
                have the ``frames``/``lengths`` inputs and ``logprobs`` output.
            BackendError: ``device="cuda"`` but the CUDA provider cannot run here; bad ``threads``.
        """
        p = Path(path)
        if not p.exists():
            raise CheckpointError(f"{p}: model file not found")
        if p.is_dir():
            raise CheckpointError(f"{p}: is a folder, not an ONNX model file")
        if threads is not None and (
            isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1
        ):
            raise BackendError(f"threads must be a positive integer, not {threads!r}")
        if threads is not None:  # a NumPy integer is one too; more threads than cores only slow it down
            threads = min(int(threads), os.cpu_count() or 1)
        providers = _providers(device)
        options = ort.SessionOptions()
        options.log_severity_level = _LOG_ERROR
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            session = ort.InferenceSession(str(p), sess_options=options, providers=providers)
        except Exception as e:  # ONNX Runtime raises its own exception types for unreadable files
            raise _fail(p, e) from None
        meta = parse_metadata(dict(session.get_modelmeta().custom_metadata_map), str(p))
        inputs = {i.name for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        if inputs != {INPUT_FRAMES, INPUT_LENGTHS} or OUTPUT not in outputs:
            raise CheckpointError(
                f"{p}: ONNX model has inputs {sorted(inputs)} and outputs {sorted(outputs)}; expected inputs "
                f"{INPUT_FRAMES!r}, {INPUT_LENGTHS!r} and output {OUTPUT!r}"
            )
        return OnnxModel(session, meta["config"], p, meta["trained_on"], meta["metrics"])

    def build(self, config: ModelConfig, seed: int | None = None) -> Model:
        """Not available: ONNX Runtime only runs exported models."""
        raise BackendError(_inference_only("build a new model"))

    def save(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Not available: ONNX Runtime only runs exported models."""
        raise BackendError(_inference_only("save a checkpoint"))

    def train(self, options: TrainOptions) -> TrainResult:
        """Not available: ONNX Runtime only runs exported models."""
        raise BackendError(_inference_only("train"))

    def export_onnx(self, model: Model, path: str | os.PathLike[str]) -> Path:
        """Not available: ONNX Runtime only runs exported models."""
        raise BackendError(_inference_only("export to ONNX"))


def _inference_only(what: str) -> str:
    return (
        f"the onnx backend runs exported models only and cannot {what}; use the torch or tensorflow backend "
        '(pip install "lipread[torch]" or "lipread[tf]")'
    )


backend = OnnxBackend()
"""The backend object the registry hands out for ``"onnx"``."""
