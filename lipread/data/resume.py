"""What a resumed training run must keep of the run it continues: the clips it trains and validates on.

Both backends store the run's :class:`~lipread.data.training.TrainOptions` (as JSON) in every training
checkpoint and call :func:`check_resume` before they continue from one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

from ..errors import CheckpointError
from .dataset import Clip
from .training import TrainOptions

__all__ = ["SPLIT_OPTIONS", "check_resume", "clips_digest", "other_backend_hint"]

SPLIT_OPTIONS = ("split", "val_fraction", "split_seed", "max_clips", "train_on_validation")
"""The :class:`TrainOptions` fields that choose the training and validation clips: a resumed run keeps them."""


def clips_digest(train: Iterable[Clip], val: Iterable[Clip]) -> str:
    """A short digest of which clips a run trains and validates on (their keys), stored in its checkpoints."""
    text = "\n".join(sorted(c.key for c in train)) + "\n--\n" + "\n".join(sorted(c.key for c in val))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def check_resume(
    path: str | os.PathLike[str],
    saved: str | None,
    options: TrainOptions,
    saved_clips: str | None = None,
    clips: str | None = None,
) -> None:
    """Refuse to resume, from the checkpoint ``path`` whose stored options are ``saved`` (their JSON; None when
    it stores none), a run that would train or validate on other clips: its best epoch would be chosen on
    another validation set. The schedule and everything else may change (a longer run, a later decay).
    ``saved_clips`` and ``clips`` are the checkpoint's and today's :func:`clips_digest` (None: not known), which
    catch a data set that changed under the same options (rows added to a manifest, videos removed).

    Raises:
        CheckpointError: naming each :data:`SPLIT_OPTIONS` field that differs, with both values, or saying that
            the data's clips changed.
    """
    if saved is None:
        return
    before, now = json.loads(saved), options.to_json()
    changed = [name for name in SPLIT_OPTIONS if name in before and before[name] != now[name]]
    if changed:
        what = ", ".join(f"{name} {before[name]!r} (now {now[name]!r})" for name in changed)
        raise CheckpointError(
            f"{path}: was trained with {what}; resuming with other training or validation clips would change the "
            "run's measure of its best epoch: give the same options, or train in a new output folder"
        )

    if saved_clips and clips and saved_clips != clips:
        raise CheckpointError(
            f"{path}: the data set's clips changed since this run started (its training and validation clips "
            "are others now); resuming would measure its best epoch on other clips: restore the data, or train "
            "in a new output folder"
        )


def other_backend_hint(path: str | os.PathLike[str], reader: str) -> str:
    """``"; it was written by the tensorflow backend: resume with --backend tensorflow"`` when the training
    checkpoint ``path`` is the other built-in backend's (PyTorch writes a zip archive, TensorFlow a safetensors
    file whose metadata names its format), so that ``reader`` (``"torch"`` or ``"tensorflow"``) can say why it
    cannot read it rather than call it damaged; ``""`` otherwise."""
    try:
        with open(path, "rb") as f:
            head = f.read(8 + 4096)
    except OSError:
        return ""
    writer = None
    if head[:4] == b"PK\x03\x04":
        writer = "torch"
    elif len(head) >= 8 and b'"lipread-tf-train"' in head[8 : 8 + int.from_bytes(head[:8], "little")]:
        writer = "tensorflow"
    if writer is None or writer == reader:
        return ""
    return f"; it was written by the {writer} backend: resume with --backend {writer}"
