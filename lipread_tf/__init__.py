"""The TensorFlow / Keras 3 backend of lipread: ``lipread.get_backend("tensorflow")``.

Models are built from a :class:`lipread.config.ModelConfig` (:mod:`lipread_tf.model`), load and save the
canonical checkpoint (:mod:`lipread_tf.convert`), train with ``model.fit`` (:mod:`lipread_tf.train`) and
export to ONNX through tf2onnx (:mod:`lipread_tf.export`). :mod:`lipread_tf.notebook` converts the seed
notebook's TensorFlow checkpoint.

Importing this package does not import TensorFlow; the first model built or loaded does, quietly
(:mod:`lipread_tf._tensorflow`). TensorFlow's C++ log lines (``I0000 ...``, ``E0000 ...``: notices and
non-fatal errors that TensorFlow recovers from, such as a graph optimiser skipping a rewrite) are switched off
(``TF_CPP_MIN_LOG_LEVEL=3``) unless the environment already sets the variable; a failure that matters still
raises. ``TF_CPP_MIN_LOG_LEVEL=0`` shows them all again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from lipread.config import ModelConfig
from lipread.errors import BackendError, CheckpointError
from lipread.weights import load_checkpoint, save_checkpoint

if TYPE_CHECKING:
    from lipread.backend import Model
    from lipread.data.training import TrainOptions, TrainResult

    from .model import TFModel

__all__ = ["TensorFlowBackend", "backend"]


class TensorFlowBackend:
    """lipread's :class:`lipread.backend.Backend` for TensorFlow / Keras 3."""

    name = "tensorflow"
    capabilities = frozenset({"inference", "train", "export"})

    def build(self, config: ModelConfig, seed: int | None = None) -> TFModel:
        """A freshly initialised model for ``config`` (``seed`` makes the initial weights reproducible)."""
        from .model import TFModel

        return TFModel(config, seed=seed)

    def from_model(self, model: Model) -> TFModel:
        """``model`` itself if it is a TensorFlow model, else a TensorFlow copy of its weights."""
        from .model import TFModel

        if isinstance(model, TFModel):
            return model
        copy = TFModel(model.config)
        copy.load_state_dict(model.state_dict())
        return copy

    def load(self, path: str | os.PathLike[str]) -> TFModel:
        """A model from a canonical checkpoint. Raises CheckpointError (naming the file) when it is not one."""
        ckpt = load_checkpoint(path)
        model = self.build(ckpt.config)
        try:
            model.load_state_dict(ckpt.as_float32())
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        model.trained_on, model.metrics = ckpt.trained_on, ckpt.metrics
        return model

    def save(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Write ``model`` as a canonical checkpoint; ``metadata`` may hold ``trained_on``, ``metrics``, ``dtype``."""
        return save_checkpoint(path, model.state_dict(), model.config, **metadata)

    def train(self, options: TrainOptions) -> TrainResult:
        """Train with ``model.fit`` as ``options`` say (see :mod:`lipread_tf.train`).

        Raises:
            BackendError: ``options.freeze`` names parts to freeze, or ``options.mixup`` asks for mixup, which
                only the torch backend does; ``options.extra`` holds anything (this backend has no options of
                its own).
        """
        if options.extra:
            raise BackendError(f"the tensorflow backend takes no --extra options ({', '.join(options.extra)})")
        if options.freeze:
            raise BackendError(
                f"the tensorflow backend cannot freeze parts of a model ({', '.join(options.freeze)}); "
                "use --backend torch"
            )
        if options.mixup:
            raise BackendError("the tensorflow backend does not train with mixup; use --backend torch")
        from .train import train

        return train(options)

    def export_onnx(self, model: Model, path: str | os.PathLike[str], **metadata: Any) -> Path:
        """Export ``model`` to ONNX with dynamic batch and time (see :mod:`lipread_tf.export`)."""
        from .export import export_onnx

        return export_onnx(self.from_model(model), path, **metadata)


backend = TensorFlowBackend()
"""The backend instance the registry hands out."""
