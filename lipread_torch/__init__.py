"""lipread's PyTorch backend: the LipNet network, training (also distributed) and ONNX export.

``import lipread_torch`` is cheap; PyTorch is imported when a model is built, loaded or trained.

>>> import lipread
>>> from lipread_torch import backend
>>> model = backend.build(lipread.get_preset("lipnet"), seed=0)  # doctest: +SKIP
>>> model.logprobs(frames, lengths).shape  # (B, T, 28)  # doctest: +SKIP
"""

from __future__ import annotations

from .backend import TorchBackend, backend

__all__ = ["TorchBackend", "backend"]
