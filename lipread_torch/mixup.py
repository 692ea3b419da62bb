"""Mixup for CTC: each training clip blended with another clip of its batch, the loss blended the same way.

Mixup (Zhang et al., 2018) trains on ``lam * x_a + (1 - lam) * x_b`` with the loss ``lam * L(y_a) + (1 - lam) *
L(y_b)``. CTC has no one-hot target to blend, but the blended loss needs none: the mixed clip is scored once
against each sentence, and the two CTC losses are weighted. The mixed clip lasts as long as the longer of the
two (the shorter one fades out past its end: its frames are zero there after standardisation), and each
sentence keeps its own emission mask when alignments are tied to word times.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from .data import Batch

__all__ = ["mix_batch"]


def mix_batch(batch: Batch, alpha: float, rng: np.random.Generator) -> tuple[Batch, Batch, torch.Tensor]:
    """Blend every clip of ``batch`` with another clip of the same batch.

    Args:
        batch: the augmented batch (on any device).
        alpha: the Beta(alpha, alpha) distribution of the weights; > 0.
        rng: draws the partners and the weights (seeded per step, so a resumed run mixes the same way).

    Returns:
        ``(first, second, lam)``: two batches with the same mixed ``frames (B, T, H, W, C)`` and mixed lengths;
        ``first`` holds each clip's own sentence, ``second`` its partner's; ``lam (B,)`` float32 is the
        weight of the first, so the loss is ``lam * ctc(first) + (1 - lam) * ctc(second)``. A batch of one
        clip comes back unmixed (``lam`` 1).
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, not {alpha}")
    n = len(batch.lengths)
    device = batch.frames.device
    if n < 2:
        return batch, batch, torch.ones(n, device=device)
    # A derangement-free shuffle is fine: a clip paired with itself is just an unmixed clip.
    partner = rng.permutation(n)
    lam_np = rng.beta(alpha, alpha, size=n).astype(np.float32)
    # Keep the clip's own sentence the heavier one, so that ``first`` always carries the main label.
    lam_np = np.maximum(lam_np, 1 - lam_np)
    lam = torch.from_numpy(lam_np).to(device)
    index = torch.from_numpy(partner).to(device)
    weight = lam.view(n, *([1] * (batch.frames.dim() - 1))).to(batch.frames.dtype)
    frames = weight * batch.frames + (1 - weight) * batch.frames[index]
    lengths = torch.maximum(batch.lengths, batch.lengths[index.to(batch.lengths.device)])
    first = replace(batch, frames=frames, lengths=lengths)
    # The partner's targets, in the partner order (targets are concatenated per clip).
    pieces = torch.split(batch.targets, batch.target_lengths.tolist())
    targets = torch.cat([pieces[int(j)] for j in partner]) if len(batch.targets) else batch.targets
    allowed = batch.allowed[index.to(batch.allowed.device)] if batch.allowed is not None else None
    second = replace(
        batch,
        frames=frames,
        lengths=lengths,
        targets=targets,
        target_lengths=batch.target_lengths[torch.from_numpy(partner).to(batch.target_lengths.device)],
        indices=np.asarray(batch.indices)[partner],
        allowed=allowed,
    )
    return first, second, lam
