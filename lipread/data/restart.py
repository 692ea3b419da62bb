"""The stages after the first schedule of ``lipread train``'s default recipe, each a run of its own that goes on
from the best weights so far with a fresh optimiser and its own learning rate: a warm restart, then a short
fine-tune on clips of which a share is made grey.

On the 810 training clips of GRID speaker 1 the warm restart read fewer validation words wrong than the first
schedule alone with every decoder and both seeds tried (grammar-decoded WER 5.0% against 5.7%; within the noise
of 90 clips, ``docs/training.md``). The grey fine-tune made black-and-white video readable (grammar-decoded WER
9.6% against 31.3% on the validation clips made grey) and colour clips read within about a point of before
(grammar-decoded WER 0.2 points worse on average over four runs, from 0.4 better to 1.3 worse); the same
grey share over the whole warm restart cost colour clips about 0.7 points with both seeds, so it is a stage of
its own. :func:`stages` says which runs a set of options makes, and :func:`train_in_stages` runs
them with a backend's ``train``, resuming whichever was interrupted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..weights import atomic_write
from .training import TrainOptions, TrainResult, selection_score

__all__ = [
    "GREY_FOLDER",
    "MORE_TRAINING",
    "PLAN_FILE",
    "RECIPE",
    "RECIPE_EPOCHS",
    "RESTART_FOLDER",
    "WarmRestart",
    "stages",
    "train_in_stages",
]

RESTART_FOLDER = "restart"
"""The warm restart's run folder, inside the first run's: ``<output>/restart``."""
GREY_FOLDER = "grey"
"""The grey fine-tune's run folder, inside the first run's: ``<output>/grey``."""
MORE_TRAINING = "LIPREAD_MORE_TRAINING"
"""An environment variable that :func:`train_in_stages` sets to ``"1"`` while a run that another follows in the
same process trains: the backend keeps what it would tear down at the end of a run (the torch backend's process
group under ``torchrun``, which a process cannot make again)."""
PLAN_FILE = "restart.json"
"""The file in a run folder that holds the stages the run was started with (a JSON list of its
:class:`WarmRestart` objects; one object in runs started before the grey fine-tune was a stage), which a resumed
run keeps; a run started without any has none."""


@dataclass(frozen=True)
class WarmRestart:
    """A stage that goes on after epoch ``at`` of the whole run, in ``<output>/<folder>``.

    The stage starts from the best weights so far (the last, when the run validates on no clip) with a new Adam
    optimiser at ``lr`` for ``constant_epochs`` epochs, then multiplies the rate by ``exp(-decay)`` per epoch
    like the first schedule (:attr:`TrainOptions.decay`), until the next stage's ``at`` or the run's total
    ``epochs``. Everything else (data, augmentations, seed) is the first run's, except the share of clips made
    grey when ``greyscale`` is given.

    The run's best model is the stage's best epoch, unless an earlier stage validated better and this stage
    trains on the same clips (``greyscale`` None): a stage that changes its clips is kept for what validation
    on the clips as they are cannot measure.

    Attributes:
        at: epochs of the run before this stage; 0, or a run's ``epochs`` at most this, leaves the stage out.
        lr: the stage's Adam learning rate.
        constant_epochs: the stage's epochs at ``lr``.
        greyscale: the stage's share of training clips made grey (:attr:`TrainOptions.greyscale`), or None for
            the first run's.
        folder: the stage's run folder inside the first run's.

    Raises:
        DataError: ``at`` or ``constant_epochs`` is not a whole number >= 0, ``lr`` is not >= 0, ``greyscale``
            is not within 0 and 1, or ``folder`` is not a plain folder name.
    """

    at: int = 68
    lr: float = 3e-4
    constant_epochs: int = 16
    greyscale: float | None = None
    folder: str = RESTART_FOLDER

    def __post_init__(self) -> None:
        for name in ("at", "constant_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DataError(f"the {self.name}'s {name} must be a whole number >= 0, not {value!r}")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise DataError(f"the {self.name}'s lr is a finite learning rate >= 0, not {self.lr}")
        if self.greyscale is not None and not 0 <= self.greyscale <= 1:
            raise DataError(f"the {self.name}'s greyscale is a share within 0 and 1, not {self.greyscale}")
        if not isinstance(self.folder, str) or self.folder in ("", ".", "..") or Path(self.folder).name != self.folder:
            raise DataError(f"the {self.name}'s folder is a folder name, not {self.folder!r}")

    @property
    def name(self) -> str:
        """What the stage is called in messages: ``warm restart``, or ``grey fine-tune`` when it has a
        greyscale share of its own."""
        return "warm restart" if self.greyscale is None else "grey fine-tune"


RECIPE = (WarmRestart(), WarmRestart(98, 1e-4, 6, greyscale=0.2, folder=GREY_FOLDER))
"""``lipread train``'s default stages after the first schedule: a warm restart after epoch 68, and a grey
fine-tune of 12 epochs after epoch 98."""
RECIPE_EPOCHS = 110
"""``lipread train``'s default ``--epochs``: the first schedule's 68 (:class:`TrainOptions`' defaults), the
warm restart's 30 and the grey fine-tune's 12."""


def _in_use(epochs: int, restarts: Sequence[WarmRestart]) -> tuple[WarmRestart, ...]:
    """The stages of ``restarts`` that a run of ``epochs`` makes, by their ``at``.

    Raises:
        DataError: two of them start after the same epoch, or share a folder.
    """
    used = sorted((r for r in restarts if 0 < r.at < epochs), key=lambda r: r.at)
    for before, after in itertools.pairwise(used):
        if before.at == after.at:
            raise DataError(f"the {before.name} and the {after.name} both start after epoch {after.at}")
    folders = [r.folder for r in used]
    if len(set(folders)) < len(folders):
        raise DataError(f"two stages train in the same folder: {folders}")
    return tuple(used)


def stages(options: TrainOptions, restarts: Sequence[WarmRestart]) -> tuple[TrainOptions, ...]:
    """The runs that ``options`` with ``restarts`` make, in order: ``options`` alone when none is used (each
    needs ``0 < at < options.epochs``); else the first ``at`` epochs in ``options.output``, then each stage's
    epochs (up to the next stage's ``at``, the last up to ``options.epochs``) in ``options.output / folder``,
    started from the weights before it (``init``: the previous run's best, which :func:`train_in_stages`
    replaces by the best so far) with the stage's schedule, its crops cached where the first run's are.

    All keep ``options.resume``; :func:`train_in_stages` decides which of them a resumed run continues.

    Raises:
        DataError: two stages start after the same epoch, or share a folder.
    """
    used = _in_use(options.epochs, restarts)
    if not used:
        return (options,)
    runs = [dataclasses.replace(options, epochs=used[0].at)]
    ends = [r.at for r in used[1:]] + [options.epochs]
    for restart, end in zip(used, ends):
        runs.append(
            dataclasses.replace(
                options,
                output=options.output / restart.folder,
                init=runs[-1].output / "best.safetensors",
                epochs=end - restart.at,
                lr=restart.lr,
                constant_epochs=restart.constant_epochs,
                greyscale=options.greyscale if restart.greyscale is None else restart.greyscale,
                cache=options.cache_dir,
            )
        )
    return tuple(runs)


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


def _planned(path: Path) -> tuple[WarmRestart, ...] | None:
    """The stages a run was started with (its :data:`PLAN_FILE`); None for a run started without any.

    Raises:
        DataError: the file cannot be read as a list of stages.
    """
    if not path.is_file():
        return None
    try:
        plan = json.loads(path.read_text(encoding="utf-8"))
        return tuple(WarmRestart(**r) for r in (plan if isinstance(plan, list) else [plan]))
    except (OSError, ValueError, TypeError, DataError) as e:
        raise DataError(f"{path}: not a warm restart plan ({e}); train in a new output folder") from None


def _described(restarts: Sequence[WarmRestart]) -> str:
    return ", ".join(f"a {r.name} after epoch {r.at}" for r in restarts)


def train_in_stages(
    train: Callable[[TrainOptions], TrainResult],
    options: TrainOptions,
    restarts: Sequence[WarmRestart],
    log: Callable[[str], None] = print,
) -> TrainResult:
    """Run :func:`stages` with ``train`` (a backend's) and return the last run's result, with ``best`` the best
    model so far (each stage's, unless an earlier one validated better and the stage trains on the same clips:
    :class:`WarmRestart`).

    A new run with stages writes them into ``options.output / PLAN_FILE``. A resumed run (``options.resume``)
    keeps the stages it was started with, whatever ``restarts`` says (none, for a run started without any): it
    skips the runs that have trained all their epochs, continues the first that has not (from its checkpoint),
    and starts those after it. A run that stops early (its ``time_limit``) ends there; each stage after the
    first gets what is left of the time limit, and none left ends there too (``resume`` goes on in both
    cases). Under ``torchrun`` only process 0 writes and logs; every process takes the same decisions.

    Raises:
        DataError: two stages start after the same epoch or share a folder, or a resumed run's plan is broken.
    """
    main = os.environ.get("RANK", "0") == "0"
    say = log if main else (lambda _: None)
    plan = options.output / PLAN_FILE
    restarts = tuple(restarts)
    if options.resume:
        kept = _planned(plan)
        if kept is not None and kept != restarts:
            say(f"resuming with the stages the run was started with ({plan}: {_described(kept)})")
        restarts = kept or ()
    runs = stages(options, restarts)
    if main and not options.resume:
        plan.unlink(missing_ok=True)  # a run trained here before
    if len(runs) == 1:
        return train(options)
    used = _in_use(options.epochs, restarts)
    if main and not options.resume:
        atomic_write(plan, (json.dumps([dataclasses.asdict(r) for r in restarts]) + "\n").encode())
    started = time.monotonic()
    result: TrainResult | None = None
    score: tuple[float, float] | None = None  # the selection score of result.best
    trained_here = False  # whether a run trained in this command yet
    for n, (run, restart) in enumerate(zip(runs, (None, *used))):
        before = sum(r.epochs for r in runs[:n])
        if result is not None:
            run = dataclasses.replace(run, init=result.best or result.last)  # no validation clips: the last
        done = _finished(run.output) if options.resume else None  # its history read once
        if done is not None and _last_epoch(done.history) >= run.epochs:
            result, score = _kept(result, score, done, restart)
            continue
        if restart is None:  # the first run, resumed or not
            trained = _train(train, run, n < len(runs) - 1)
        else:
            resumed = options.resume and (run.output / "last.ckpt").is_file()
            if resumed:
                say(f"the first {before} epochs are trained; resuming the {restart.name} in {run.output}")
            else:
                if not trained_here:  # resumed after the runs before it had finished
                    say(f"the first {before} epochs are trained in {options.output}")
                if options.time_limit is not None:
                    left = options.time_limit - (time.monotonic() - started) / 60
                    # Each process has its own clock: under torchrun a stage always starts, and the backend,
                    # which shares process 0's decision, stops it after its first epoch when no time is left.
                    if left <= 0 and int(os.environ.get("WORLD_SIZE", "1")) <= 1:
                        say(
                            f"time limit of {options.time_limit} min reached before the {restart.name}; continue "
                            "with --resume"
                        )
                        assert result is not None  # the first run came before
                        return result
                    run = dataclasses.replace(run, time_limit=max(left, 1e-6))
                say(f"{restart.name}: {_epochs(run.epochs)} from {run.init}, lr {run.lr:g}, in {run.output}")
            trained = _train(train, dataclasses.replace(run, resume=resumed), n < len(runs) - 1)
        trained_here = True
        result, score = _kept(result, score, trained, restart)
        if _last_epoch(trained.history) < run.epochs:  # stopped by the time limit
            return result
    assert result is not None
    if not trained_here:
        parts = [str(runs[0].epochs)] + [f"{_epochs(r.epochs)} of {u.name}" for r, u in zip(runs[1:], used)]
        say(
            f"all {options.epochs} epochs are trained ({', then '.join(parts)}): nothing more to train (a larger "
            "--epochs goes on)"
        )
    return result


def _train(train: Callable[[TrainOptions], TrainResult], run: TrainOptions, more: bool) -> TrainResult:
    """``train(run)``, with :data:`MORE_TRAINING` set when another run follows it."""
    with _more_training() if more else contextlib.nullcontext():
        return train(run)


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


def _kept(
    before: TrainResult | None, score: tuple[float, float] | None, after: TrainResult, restart: WarmRestart | None
) -> tuple[TrainResult, tuple[float, float] | None]:
    """``after`` (a stage's result) with its ``best`` the one before when that validated better (``score``)
    and the stage trains on the same clips (:class:`WarmRestart`), and the selection score of that best."""
    mine = _best_score(after.history)
    own = restart is None or restart.greyscale is not None
    if not own and score is not None and (mine is None or score < mine) and before is not None and before.best:
        return dataclasses.replace(after, best=before.best), score
    return after, mine
