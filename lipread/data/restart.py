"""The warm restart that ends ``lipread train``'s default recipe: after the first schedule has decayed, training
goes on from that run's best weights with a fresh optimiser and the learning rate back up, in a run of its own.

On the 810 training clips of GRID speaker 1 the restart read fewer validation words wrong than the first
schedule alone with every decoder and both seeds tried (grammar-decoded WER 5.0% against 5.7%; within the noise
of 90 clips, ``docs/training.md``). :func:`stages` says which runs a set of options
makes, and :func:`train_in_stages` runs them with a backend's ``train``, resuming whichever was interrupted.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError
from .training import TrainOptions, TrainResult

__all__ = ["RECIPE_EPOCHS", "RESTART_FOLDER", "WarmRestart", "stages", "train_in_stages"]

RECIPE_EPOCHS = 98
"""``lipread train``'s default ``--epochs``: the first schedule's 68 (:class:`TrainOptions`' defaults) and the
warm restart's 30."""

RESTART_FOLDER = "restart"
"""The restart's run folder, inside the first run's: ``<output>/restart``."""


@dataclass(frozen=True)
class WarmRestart:
    """A second schedule after epoch ``at`` of the first.

    The restart starts from the first run's best weights (its last, when it validates on no clip) with a new
    Adam optimiser at ``lr`` for ``constant_epochs`` epochs, then multiplies the rate by ``exp(-decay)`` per
    epoch like the first schedule (:attr:`TrainOptions.decay`), until the run's total ``epochs``. Everything
    else (data, augmentations, seed) is the first run's.

    Attributes:
        at: epochs of the first schedule; with ``epochs`` at most this, or 0, there is no restart.
        lr: the restart's Adam learning rate.
        constant_epochs: the restart's epochs at ``lr``.

    Raises:
        DataError: ``at`` or ``constant_epochs`` is not a whole number >= 0, or ``lr`` is not >= 0.
    """

    at: int = 68
    lr: float = 3e-4
    constant_epochs: int = 16

    def __post_init__(self) -> None:
        for name in ("at", "constant_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DataError(f"the restart's {name} must be a whole number >= 0, not {value!r}")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise DataError(f"the restart's lr is a learning rate >= 0, not {self.lr}")


def stages(options: TrainOptions, restart: WarmRestart | None) -> tuple[TrainOptions, ...]:
    """The runs that ``options`` with ``restart`` make, in order: ``options`` alone when there is no restart
    (None, or ``options.epochs <= restart.at``); else the first ``restart.at`` epochs in ``options.output``,
    then ``options.epochs - restart.at`` epochs in ``options.output / RESTART_FOLDER``, started from the first
    run's best weights (``init``) with the restart's schedule, its crops cached where the first run's are.

    Both keep ``options.resume``; :func:`train_in_stages` decides which of them a resumed run continues.
    """
    if restart is None or options.epochs <= restart.at or restart.at == 0:
        return (options,)
    first = dataclasses.replace(options, epochs=restart.at)
    second = dataclasses.replace(
        options,
        output=options.output / RESTART_FOLDER,
        init=options.output / "best.safetensors",
        epochs=options.epochs - restart.at,
        lr=restart.lr,
        constant_epochs=restart.constant_epochs,
        cache=options.cache_dir,
    )
    return first, second


def _epochs_done(folder: Path) -> int:
    """The last epoch that ``folder/history.jsonl`` records; 0 when it records none or cannot be read."""
    try:
        lines = (folder / "history.jsonl").read_text(encoding="utf-8").splitlines()
        return int(json.loads(lines[-1])["epoch"]) if lines else 0
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return 0


def train_in_stages(
    train: Callable[[TrainOptions], TrainResult],
    options: TrainOptions,
    restart: WarmRestart | None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Run :func:`stages` with ``train`` (a backend's) and return the last run's result.

    A resumed run (``options.resume``) continues the restart when it has a checkpoint, starts it when the first
    run has trained all its epochs, and else continues the first run. A first run that stops early (its
    ``time_limit``) ends there; the restart gets what is left of the time limit, and none left ends there too:
    ``resume`` goes on in both cases.
    """
    runs = stages(options, restart)
    if len(runs) == 1:
        return train(options)
    first, second = runs
    started = time.monotonic()
    if options.resume and (second.output / "last.ckpt").is_file():
        log(f"the first {first.epochs} epochs are trained; resuming the warm restart in {second.output}")
        return train(second)
    if options.resume and _epochs_done(first.output) >= first.epochs:
        log(f"the first {first.epochs} epochs are trained in {first.output}")
        best = first.output / "best.safetensors"
        result = TrainResult(first.output, best if best.is_file() else None, first.output / "last.safetensors", [])
    else:
        result = train(first)
        if _epochs_done(first.output) < first.epochs:  # stopped by the time limit
            return result
    if result.best is None:  # validated on no clip: the last weights
        second = dataclasses.replace(second, init=result.last)
    if options.time_limit is not None:
        left = options.time_limit - (time.monotonic() - started) / 60
        if left <= 0:
            log(f"time limit of {options.time_limit} min reached before the warm restart; continue with --resume")
            return result
        second = dataclasses.replace(second, time_limit=left)
    log(f"warm restart: {second.epochs} epochs from {second.init}, lr {second.lr:g}, in {second.output}")
    return train(dataclasses.replace(second, resume=False))
