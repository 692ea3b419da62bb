"""``TorchModel``: a :class:`LipNet` behind lipread's ``Model`` protocol (NumPy in, NumPy out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lipread.config import ModelConfig
from lipread.errors import BackendError, CheckpointError
from lipread.model_input import checked_input

from .model import LipNet

__all__ = ["TorchModel", "canonical_state", "resolve_device"]

_NOT_CANONICAL = ("num_batches_tracked",)


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as ``torch.device`` reads it.

    Raises:
        BackendError: a name PyTorch does not know (``"gpu"``), or CUDA asked for where PyTorch sees none.
    """
    if isinstance(device, str) and device.strip().lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device.strip().lower() if isinstance(device, str) else device)
    except (RuntimeError, TypeError, ValueError):
        raise BackendError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda' (or 'cuda:N')") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(f"device {device!r} was asked for, but PyTorch sees no CUDA device; use 'cpu'")
    return resolved


def canonical_state(module: LipNet) -> dict[str, torch.Tensor]:
    """The module's parameters and buffers under their canonical names (``num_batches_tracked`` left out)."""
    return {k: v for k, v in module.state_dict().items() if not k.endswith(_NOT_CANONICAL)}


def assign_canonical(module: LipNet, tensors: dict[str, np.ndarray], source: str) -> None:
    """Copy canonical ``tensors`` into ``module``.

    Raises:
        CheckpointError: a tensor is missing, unexpected, or has the wrong shape (the message names it
            and ``source``).
    """
    expected = canonical_state(module)
    tensors = {k: v for k, v in tensors.items() if not k.endswith(_NOT_CANONICAL)}  # counters, not weights
    missing = [k for k in expected if k not in tensors]
    if missing:
        raise CheckpointError(f"{source}: missing tensor {missing[0]!r} ({len(missing)} missing in all)")
    unexpected = sorted(k for k in tensors if k not in expected)
    if unexpected:
        raise CheckpointError(f"{source}: unexpected tensor {unexpected[0]!r} for model {module.config.name!r}")
    with torch.no_grad():
        for name, target in expected.items():
            value = np.asarray(tensors[name])
            if tuple(value.shape) != tuple(target.shape):
                raise CheckpointError(
                    f"{source}: tensor {name!r} has shape {tuple(value.shape)}, expected {tuple(target.shape)}"
                )
            target.copy_(torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32)))


class TorchModel:
    """A PyTorch LipNet implementing lipread's ``Model`` protocol.

    Attributes:
        config: the model configuration.
        backend: ``"torch"``.
        module: the :class:`LipNet` ``nn.Module``.
        trained_on, metrics: the checkpoint metadata it was loaded with (empty for a new model).
    """

    backend = "torch"

    def __init__(self, module: LipNet, device: str | torch.device = "cpu") -> None:
        self.config: ModelConfig = module.config
        self.module = module.to(resolve_device(device))
        self.trained_on: dict[str, Any] = {}
        self.metrics: dict[str, Any] = {}

    @property
    def device(self) -> torch.device:
        """Where the module's weights live."""
        return next(self.module.parameters()).device

    def to(self, device: str | torch.device) -> TorchModel:
        """Move the weights to ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``); returns self."""
        self.module.to(resolve_device(device))
        return self

    def logprobs(self, frames: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        """Eval-mode log-probabilities ``float32 (B, T, V)`` for ``float32 (B, T, H, W, C)`` frames.

        Args:
            frames: model input, as :func:`lipread.video.preprocess.normalise` makes it, padded to a common T.
            lengths: ``int (B,)`` valid frames per clip (default: all T).

        Raises:
            VideoError: ``frames`` is not 5-D with the model's ``(H, W, C)``, or ``lengths`` does not fit.
        """
        x, n = checked_input(self.config, frames, lengths)
        if len(x) == 0:
            return np.zeros((0, x.shape[1], self.config.num_classes), np.float32)
        lens = n.astype(np.int64)
        was_training = self.module.training
        self.module.eval()
        try:
            with torch.inference_mode():
                inputs = torch.from_numpy(x).to(self.device)
                out = self.module(inputs, torch.from_numpy(lens).to(self.device))
                return out.float().cpu().numpy()
        finally:
            self.module.train(was_training)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Canonical name -> ``float32`` NumPy array (a copy)."""
        return {k: v.detach().to("cpu", torch.float32).numpy().copy() for k, v in canonical_state(self.module).items()}

    def load_state_dict(self, tensors: dict[str, np.ndarray]) -> None:
        """Set the weights from canonical tensors. Raises CheckpointError on missing or misshapen ones."""
        assign_canonical(self.module, tensors, "state dict")

    def num_parameters(self) -> int:
        """Trainable parameters."""
        return sum(p.numel() for p in self.module.parameters() if p.requires_grad)
