"""The ``torch`` backend object registered under lipread's ``lipread.backends`` entry points.

Importing this module does not import PyTorch; each method imports what it needs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipread.config import ModelConfig
from lipread.errors import BackendError

if TYPE_CHECKING:
    from lipread.backend import Model
    from lipread.data.training import TrainOptions, TrainResult

    from .wrapper import TorchModel

__all__ = ["TorchBackend", "backend"]


class TorchBackend:
    """PyTorch: inference, training (single process or ``torchrun``) and ONNX export."""

    name = "torch"
    capabilities = frozenset({"inference", "train", "export"})

    def build(self, config: ModelConfig, seed: int | None = None, device: str = "cpu") -> TorchModel:
        """A freshly initialised model; ``seed`` makes the initial weights reproducible (global RNG untouched)."""
        import torch

        from .model import LipNet
        from .wrapper import TorchModel

        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            module = LipNet(config)
        return TorchModel(module.eval(), device)

    def load(self, path: str | os.PathLike[str], device: str = "cpu") -> TorchModel:
        """A model from a canonical ``.safetensors`` checkpoint (float16-stored weights come back as float32).

        Raises:
            CheckpointError: not a lipread checkpoint, or a tensor is missing or misshapen (named).
        """
        from lipread.weights import load_checkpoint

        from .model import LipNet
        from .wrapper import TorchModel, assign_canonical

        ckpt = load_checkpoint(path)
        module = LipNet(ckpt.config)
        assign_canonical(module, ckpt.as_float32(), str(path))
        model = TorchModel(module.eval(), device)
        model.trained_on = ckpt.trained_on
        model.metrics = ckpt.metrics
        return model

    def save(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Write ``model`` as a canonical checkpoint; ``metadata`` may hold ``trained_on``, ``metrics``, ``dtype``."""
        from lipread.weights import save_checkpoint

        return save_checkpoint(path, model.state_dict(), model.config, **metadata)

    def train(self, options: TrainOptions) -> TrainResult:
        """Train as ``options`` say (see :func:`lipread_torch.train.train`).

        Raises:
            BackendError: ``options.extra`` holds anything: this backend has no options of its own.
        """
        if options.extra:
            raise BackendError(f"the torch backend takes no --extra options ({', '.join(options.extra)})")
        from .train import train

        return train(options)

    def export_onnx(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Export to ONNX (see :func:`lipread_torch.export.export_onnx`)."""
        from .export import export_onnx
        from .wrapper import TorchModel

        if not isinstance(model, TorchModel):
            raise BackendError(f"the torch backend cannot export a {getattr(model, 'backend', '?')} model")
        return export_onnx(model, path, **metadata)


backend = TorchBackend()
"""The backend instance lipread's registry loads."""
