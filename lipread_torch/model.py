"""The LipNet network in PyTorch, built from a :class:`lipread.config.ModelConfig`.

Its ``state_dict()`` names and layouts are the canonical checkpoint format every backend converts to:

- ``frontend.{i}.conv.weight`` ``(out, in, kT, kH, kW)``, ``frontend.{i}.conv.bias``,
  ``frontend.{i}.bn.{weight,bias,running_mean,running_var}`` (blocks with BatchNorm only);
- ``rnn.{l}.{forward,backward}.{weight_ih_l0,weight_hh_l0,bias_ih_l0,bias_hh_l0}``: one unidirectional
  ``nn.GRU`` (gates r, z, n) or ``nn.LSTM`` (gates i, f, g, o) per direction;
- ``classifier.weight`` ``(V, 2 * rnn_hidden)``, ``classifier.bias``.

Front-end features are flattened per frame in ``(C, H, W)`` order. BatchNorm's ``num_batches_tracked``
is not part of the canonical checkpoint.

The network is batch invariant: a clip's log-probabilities do not depend on the other clips of its batch
(in eval mode). Frames past a clip's length are zeroed after every convolution block, so the convolutions'
time padding sees zeros exactly as for a lone clip, and the backward recurrent direction runs over each
clip reversed within its own length.
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from lipread.config import ConvBlock, ModelConfig

__all__ = ["BiRNN", "FrontendBlock", "LipNet", "reverse_within_length", "time_mask"]


def time_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """``bool (B, T)``: True for the valid frames ``t < lengths[b]``."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def reverse_within_length(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Reverse each sequence of ``x (B, T, F)`` within its length; frames past the length stay in place.

    Frame ``t < lengths[b]`` goes to ``lengths[b] - 1 - t``. Applying it twice gives ``x`` back.
    """
    t = torch.arange(x.shape[1], device=x.device)[None, :]
    n = lengths[:, None].to(t.dtype)
    index = torch.where(t < n, n - 1 - t, t)
    return torch.gather(x, 1, index[:, :, None].expand(-1, -1, x.shape[2]))


class FrontendBlock(nn.Module):
    """Conv3d -> [BatchNorm3d] -> ReLU -> [Dropout3d] -> MaxPool3d on ``(B, C, T, H, W)``.

    ``dropout`` replaces ``block.dropout`` as the spatial dropout rate (None: keep the block's).
    """

    def __init__(self, in_channels: int, block: ConvBlock, eps: float, dropout: float | None = None) -> None:
        super().__init__()
        dropout = block.dropout if dropout is None else dropout
        self.conv = nn.Conv3d(in_channels, block.channels, block.kernel, block.stride, block.padding)
        self.bn = nn.BatchNorm3d(block.channels, eps=eps) if block.batchnorm else None
        self.dropout = nn.Dropout3d(dropout) if dropout > 0 else None
        self.pool = nn.MaxPool3d(block.pool, block.pool)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``float (B, C_in, T, H, W)`` -> ``float (B, C_out, T, H', W')`` (T kept; H, W pooled)."""
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        x = F.relu(x)
        if self.dropout is not None:
            x = self.dropout(x)
        return self.pool(x)


class BiRNN(nn.Module):
    """A bidirectional GRU/LSTM layer made of two unidirectional ones, ``(B, T, F) -> (B, T, 2 * hidden)``.

    The submodules are registered as ``forward`` and ``backward`` (the canonical names); ``nn.Module``
    reserves ``forward`` as a method name, so they are reached through :attr:`fwd` and :attr:`bwd`.
    """

    def __init__(self, kind: str, input_size: int, hidden: int) -> None:
        super().__init__()
        cls = nn.GRU if kind == "gru" else nn.LSTM
        self._modules["forward"] = cls(input_size, hidden, batch_first=True)
        self._modules["backward"] = cls(input_size, hidden, batch_first=True)

    @property
    def fwd(self) -> nn.RNNBase:
        """The forward-direction recurrent module (canonical name ``forward``)."""
        return self._modules["forward"]  # type: ignore[return-value]

    @property
    def bwd(self) -> nn.RNNBase:
        """The backward-direction recurrent module (canonical name ``backward``)."""
        return self._modules["backward"]  # type: ignore[return-value]

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``float (B, T, F)`` and ``int (B,)`` lengths -> ``float (B, T, 2 * hidden)`` (forward, then backward)."""
        ahead, _ = self.fwd(x)
        back, _ = self.bwd(reverse_within_length(x, lengths))
        return torch.cat([ahead, reverse_within_length(back, lengths)], dim=2)


class LipNet(nn.Module):
    """LipNet: 3D-conv front end, bidirectional recurrent layers, linear classifier, log-softmax.

    Input ``float32 (B, T, H, W, C)`` channels last and ``lengths int (B,)``; output log-probabilities
    ``(B, T, V)``. Output rows past a clip's length are unspecified.

    ``conv_dropout`` replaces the blocks' spatial dropout rates in training (None: the config's; 0: none);
    dropout has no weights, so the state dict is that of ``config`` either way.
    """

    def __init__(self, config: ModelConfig, conv_dropout: float | None = None) -> None:
        super().__init__()
        config.validate()  # (ValueError naming the field and its limit, before anything is allocated)
        self.config = config
        blocks = []
        channels = config.channels
        for block in config.frontend:
            blocks.append(FrontendBlock(channels, block, config.batchnorm_eps, conv_dropout))
            channels = block.channels
        self.frontend = nn.ModuleList(blocks)
        size = config.feature_size
        layers = []
        for _ in range(config.rnn_layers):
            layers.append(BiRNN(config.rnn, size, config.rnn_hidden))
            size = 2 * config.rnn_hidden
        self.rnn = nn.ModuleList(layers)
        self.rnn_dropout = nn.Dropout(config.rnn_dropout) if config.rnn_dropout > 0 else None
        self.classifier = nn.Linear(size, config.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He-normal convolutions, Xavier input and orthogonal recurrent weights (per gate), zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.RNNBase):
                weight_ih, weight_hh = m.get_parameter("weight_ih_l0"), m.get_parameter("weight_hh_l0")
                for g in range(weight_hh.shape[0] // m.hidden_size):
                    rows = slice(g * m.hidden_size, (g + 1) * m.hidden_size)
                    nn.init.xavier_uniform_(weight_ih.data[rows])
                    nn.init.orthogonal_(weight_hh.data[rows])
                nn.init.zeros_(m.get_parameter("bias_ih_l0"))
                nn.init.zeros_(m.get_parameter("bias_hh_l0"))
        bound = 1.0 / math.sqrt(self.classifier.in_features)
        nn.init.uniform_(self.classifier.weight, -bound, bound)
        nn.init.zeros_(self.classifier.bias)

    def forward(self, frames: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, T, H, W, C)`` frames and ``(B,)`` lengths -> ``(B, T, V)`` log-probabilities."""
        if lengths is None:
            lengths = torch.full((frames.shape[0],), frames.shape[1], dtype=torch.int64, device=frames.device)
        lengths = lengths.to(torch.int64)
        return self.read_features(self.features(frames, lengths), lengths)

    def features(self, frames: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The front end: ``(B, T, H, W, C)`` frames and ``int64 (B,)`` lengths -> ``(B, T, F)`` features per
        frame, flattened in ``(C, H, W)`` order (``F`` is ``config.feature_size``)."""
        keep = time_mask(lengths, frames.shape[1])[:, None, :, None, None]
        x = frames.permute(0, 4, 1, 2, 3)  # (B, C, T, H, W)
        x = x * keep.to(x.dtype)
        for block in self.frontend:
            x = block(x)
            x = x * keep.to(x.dtype)
        return x.permute(0, 2, 1, 3, 4).flatten(2)

    def read_features(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The recurrent layers and the classifier: ``(B, T, F)`` features and ``int64 (B,)`` lengths ->
        ``(B, T, V)`` log-probabilities."""
        # Under CPU autocast only the convolutions run in bfloat16 (about twice as fast there); CPU
        # recurrent layers are no faster in bfloat16, so they and the classifier stay in float32.
        on_cpu = x.device.type == "cpu"
        with torch.autocast("cpu", enabled=False) if on_cpu else contextlib.nullcontext():
            if on_cpu:
                x = x.float()
            for layer in self.rnn:
                x = layer(x, lengths)
                if self.rnn_dropout is not None:
                    x = self.rnn_dropout(x)
            return F.log_softmax(self.classifier(x), dim=-1)
