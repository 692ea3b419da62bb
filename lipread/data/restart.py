"""The warm restart that ends ``lipread train``'s default recipe: after the first schedule has decayed, training
goes on from that run's best weights with a fresh optimiser and the learning rate back up, in a run of its own.

On the 810 training clips of GRID speaker 1 the restart read fewer validation words wrong than the first
schedule alone with every decoder and both seeds tried (grammar-decoded WER 5.0% against 5.7%; within the noise
of 90 clips, ``docs/training.md``). :func:`stages` says which runs a set of options
makes, and :func:`train_in_stages` runs them with a backend's ``train``, resuming whichever was interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..weights import atomic_write
from .training import TrainOptions, TrainResult, selection_score

__all__ = ["MORE_TRAINING", "PLAN_FILE", "RECIPE_EPOCHS", "RESTART_FOLDER", "WarmRestart", "stages", "train_in_stages"]

RECIPE_EPOCHS = 98
"""``lipread train``'s default ``--epochs``: the first schedule's 68 (:class:`TrainOptions`' defaults) and the
warm restart's 30."""

RESTART_FOLDER = "restart"
"""The restart's run folder, inside the first run's: ``<output>/restart``."""
MORE_TRAINING = "LIPREAD_MORE_TRAINING"
"""An environment variable that :func:`train_in_stages` sets to ``"1"`` while a run that another follows in the
same process trains: the backend keeps what it would tear down at the end of a run (the torch backend's process
group under ``torchrun``, which a process cannot make again)."""
PLAN_FILE = "restart.json"
"""The file in a run folder that holds the warm restart the run was started with (its :class:`WarmRestart` as
JSON), which a resumed run keeps; a run started without a restart has none."""


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
            raise DataError(f"the restart's lr is a finite learning rate >= 0, not {self.lr}")


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
    return _last_epoch(_history(folder))


def _history(folder: Path) -> list[dict[str, Any]]:
    try:
        return [json.loads(line) for line in (folder / "history.jsonl").read_text(encoding="utf-8").splitlines()]
    except (OSError, ValueError):
        return []


def _last_epoch(history: list[dict[str, Any]]) -> int:
    try:
        return int(history[-1]["epoch"]) if history else 0
    except (KeyError, TypeError, ValueError):
        return 0


def _best_score(history: list[dict[str, Any]]) -> tuple[float, float] | None:
    """The best :func:`selection_score` of a run's epochs (None when none was validated)."""
    scores = [
        selection_score(h["metrics"], h["val_loss"])
        for h in history
        if h.get("val_loss") is not None and "greedy_wer" in (h.get("metrics") or {})
    ]
    return min(scores, default=None)


def _planned(path: Path) -> WarmRestart | None:
    """The warm restart a run was started with (its :data:`PLAN_FILE`); None for a run started without one.

    Raises:
        DataError: the file cannot be read as a restart.
    """
    if not path.is_file():
        return None
    try:
        return WarmRestart(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, DataError) as e:
        raise DataError(f"{path}: not a warm restart plan ({e}); train in a new output folder") from None


def train_in_stages(
    train: Callable[[TrainOptions], TrainResult],
    options: TrainOptions,
    restart: WarmRestart | None,
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Run :func:`stages` with ``train`` (a backend's) and return the last run's result, with ``best`` the better
    of the two runs' best models (the restart's, unless none of its epochs validated better than the first's).

    A new run with a restart writes it into ``options.output / PLAN_FILE``. A resumed run (``options.resume``)
    keeps the restart it was started with, whatever ``restart`` says (none, for a run started without one): it
    continues the restart when it has a checkpoint, starts it when the first run has trained all its epochs,
    and else continues the first run. A first run that stops early (its ``time_limit``) ends there; the
    restart gets what is left of the time limit, and none left ends there too (``resume`` goes on in both
    cases). Under ``torchrun`` only process 0 writes and logs; every process takes the same decisions.
    """
    main = os.environ.get("RANK", "0") == "0"
    say = log if main else (lambda _: None)
    plan = options.output / PLAN_FILE
    if options.resume:
        kept = _planned(plan)
        if kept is not None and kept != restart:
            say(f"resuming with the warm restart the run was started with ({plan}: after epoch {kept.at})")
        restart = kept
    runs = stages(options, restart)
    if main and not options.resume:
        plan.unlink(missing_ok=True)  # a run trained here before
    if len(runs) == 1 or restart is None:
        return train(options)
    first, second = runs
    if main and not options.resume:
        atomic_write(plan, (json.dumps(dataclasses.asdict(restart)) + "\n").encode())
    started = time.monotonic()
    trained = _finished(first.output) if options.resume else None  # its history read once
    first_done = trained is not None and _last_epoch(trained.history) >= first.epochs
    if trained is None or not first_done:
        with _more_training():
            result = train(first)
        history = result.history
        if _last_epoch(history) < first.epochs:  # stopped by the time limit
            return result
    else:
        result = trained
        history = result.history
    if result.best is None:  # validated on no clip: the last weights
        second = dataclasses.replace(second, init=result.last)
    if options.resume and (second.output / "last.ckpt").is_file():
        if _epochs_done(second.output) >= second.epochs:  # said in the command's terms, not the restart's
            say(
                f"all {options.epochs} epochs are trained ({first.epochs}, then {_epochs(second.epochs)} of warm "
                "restart): nothing more to train (a larger --epochs goes on)"
            )
            return _better(history, result, _finished(second.output))
        say(f"the first {first.epochs} epochs are trained; resuming the warm restart in {second.output}")
        return _better(history, result, train(second))
    if first_done:
        say(f"the first {first.epochs} epochs are trained in {first.output}")
    if options.time_limit is not None:
        left = options.time_limit - (time.monotonic() - started) / 60
        # Each process has its own clock: under torchrun the restart always starts, and the backend, which
        # shares process 0's decision, stops it after its first epoch when no time is left.
        if left <= 0 and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
            say(f"time limit of {options.time_limit} min reached before the warm restart; continue with --resume")
            return result
        second = dataclasses.replace(second, time_limit=max(left, 1e-6))
    say(f"warm restart: {_epochs(second.epochs)} from {second.init}, lr {second.lr:g}, in {second.output}")
    return _better(history, result, train(dataclasses.replace(second, resume=False)))


@contextlib.contextmanager
def _more_training() -> Iterator[None]:
    """:data:`MORE_TRAINING` set for the block."""
    before = os.environ.get(MORE_TRAINING)
    os.environ[MORE_TRAINING] = "1"
    try:
        yield
    finally:
        if before is None:
            del os.environ[MORE_TRAINING]
        else:
            os.environ[MORE_TRAINING] = before


def _epochs(n: int) -> str:
    return f"{n} epoch{'s' if n != 1 else ''}"


def _finished(folder: Path) -> TrainResult:
    """The result of the run in ``folder`` as its files left it."""
    best = folder / "best.safetensors"
    return TrainResult(folder, best if best.is_file() else None, folder / "last.safetensors", _history(folder))


def _better(first_history: list[dict[str, Any]], first: TrainResult, second: TrainResult) -> TrainResult:
    """``second`` with its ``best`` the first run's when none of the restart's epochs validated better."""
    before, after = _best_score(first_history), _best_score(second.history)
    if before is not None and (after is None or before < after) and first.best is not None:
        return dataclasses.replace(second, best=first.best)
    return second
