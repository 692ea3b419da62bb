"""The stages of ``lipread train``'s default recipe after its first schedule (a warm restart, a grey fine-tune):
which runs they make, and how an interrupted one goes on."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import lipread.backend
import lipread.data.restart as restart_module
from lipread.cli.app import main
from lipread.data.restart import (
    GREY_FOLDER,
    MORE_TRAINING,
    PLAN_FILE,
    RECIPE,
    RECIPE_EPOCHS,
    RESTART_FOLDER,
    WarmRestart,
    stages,
    train_in_stages,
)
from lipread.data.training import TrainOptions, TrainResult
from lipread.errors import DataError

RUN = Path("runs/a")


def options(**changes: object) -> TrainOptions:
    return TrainOptions(**{"data": Path("grid"), "output": RUN, **changes})  # type: ignore[arg-type]


@given(st.integers(1, 300), st.integers(0, 300), st.floats(1e-6, 1e-2), st.integers(0, 50))
def test_the_stages_add_up_to_the_epochs_asked_for(epochs: int, at: int, lr: float, constant: int) -> None:
    asked = options(epochs=epochs, lr=5e-4, constant_epochs=52, seed=7, shift=0.05)
    runs = stages(asked, [WarmRestart(at, lr, constant)])
    if at == 0 or epochs <= at:
        assert runs == (asked,)
        return
    first, second = runs
    assert first == dataclasses.replace(asked, epochs=at)
    assert first.epochs + second.epochs == epochs
    assert (second.output, second.init) == (RUN / RESTART_FOLDER, RUN / "best.safetensors")
    assert (second.lr, second.constant_epochs, second.decay) == (lr, constant, asked.decay)
    assert second.cache_dir == first.cache_dir == RUN.parent / "cache"  # not runs/a/cache: the crops are decoded once
    same = {"output", "init", "epochs", "lr", "constant_epochs", "cache"}
    assert {k: v for k, v in vars(second).items() if k not in same} == {
        k: v for k, v in vars(first).items() if k not in same
    }


def test_no_restart_keeps_the_options() -> None:
    asked = options(epochs=98)
    assert stages(asked, ()) == (asked,)


@pytest.mark.parametrize(
    "bad",
    [
        {"at": -1},
        {"constant_epochs": 1.5},
        {"lr": float("nan")},
        {"at": True},
        {"folder": "a/b"},
        {"folder": ".."},
        {"greyscale": 1.5},
        {"greyscale": -0.1, "folder": GREY_FOLDER},
    ],
)
def test_a_bad_restart_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(DataError, match=r"the (warm restart|grey fine-tune)'s"):
        WarmRestart(**bad)  # type: ignore[arg-type]


class Trainer:
    """A backend's ``train`` that records its options and writes the history (and best model) a run leaves."""

    def __init__(self, stop_after: int | None = None, validates: bool = True, wers: tuple[float, ...] = ()) -> None:
        self.calls: list[TrainOptions] = []
        self.stop_after = stop_after  # epochs before a time limit stops the first run
        self.validates = validates
        self.wers = wers  # each call's validation greedy WER, every epoch (none: not recorded)

    def __call__(self, options: TrainOptions) -> TrainResult:
        self.calls.append(options)
        out = options.output
        out.mkdir(parents=True, exist_ok=True)
        done = options.epochs if self.stop_after is None else min(self.stop_after, options.epochs)
        history: list[dict[str, object]] = [{"epoch": n, "lr": options.lr} for n in range(1, done + 1)]
        if len(self.wers) >= len(self.calls):
            for h in history:
                h.update(val_loss=1.0, metrics={"greedy_wer": self.wers[len(self.calls) - 1]})
        (out / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
        for name in ("last.ckpt", "last.safetensors") + (("best.safetensors",) if self.validates else ()):
            (out / name).write_bytes(b"")
        best = out / "best.safetensors" if self.validates else None
        return TrainResult(out, best, out / "last.safetensors", history)


def _silent(_: str) -> None:
    pass


def test_a_run_trains_both_stages_the_restart_from_the_best_weights(tmp_path: Path) -> None:
    train = Trainer()
    result = train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6, 1e-4, 2),), _silent)
    first, second = train.calls
    assert (first.output, first.epochs, first.init) == (tmp_path, 6, None)
    assert (second.output, second.epochs, second.init, second.resume) == (
        tmp_path / RESTART_FOLDER,
        4,
        tmp_path / "best.safetensors",
        False,
    )
    assert result.output == tmp_path / RESTART_FOLDER and result.best == tmp_path / RESTART_FOLDER / "best.safetensors"


def test_without_validation_clips_the_restart_starts_from_the_last_weights(tmp_path: Path) -> None:
    train = Trainer(validates=False)
    train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6),), _silent)
    assert train.calls[1].init == tmp_path / "last.safetensors"


def test_a_first_run_stopped_by_its_time_limit_ends_there(tmp_path: Path) -> None:
    train = Trainer(stop_after=3)
    result = train_in_stages(train, options(output=tmp_path, epochs=10, time_limit=5.0), (WarmRestart(6),), _silent)
    assert [c.output for c in train.calls] == [tmp_path] and result.output == tmp_path


def test_the_restart_gets_what_is_left_of_the_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.0 + 60 * 3.5])  # started, then 3.5 minutes later
    monkeypatch.setattr(restart_module.time, "monotonic", lambda: next(clock))
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=10, time_limit=5.0), (WarmRestart(6),), _silent)
    assert train.calls[1].time_limit == pytest.approx(1.5)


def test_no_time_left_starts_no_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.0 + 60 * 5])
    monkeypatch.setattr(restart_module.time, "monotonic", lambda: next(clock))
    said: list[str] = []
    train = Trainer()
    result = train_in_stages(train, options(output=tmp_path, epochs=10, time_limit=5.0), (WarmRestart(6),), said.append)
    assert len(train.calls) == 1 and result.output == tmp_path
    assert said == ["time limit of 5.0 min reached before the warm restart; continue with --resume"]


def _started_with(folder: Path, *restarts: WarmRestart) -> None:
    """Leave in ``folder`` what a run started with ``restarts`` writes before it trains."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PLAN_FILE).write_text(json.dumps([dataclasses.asdict(r) for r in restarts]))


def test_a_new_run_writes_its_restart_and_one_without_removes_it(tmp_path: Path) -> None:
    train_in_stages(Trainer(), options(output=tmp_path, epochs=10), (WarmRestart(6, 1e-4, 2),), _silent)
    assert json.loads((tmp_path / PLAN_FILE).read_text()) == [
        {"at": 6, "lr": 1e-4, "constant_epochs": 2, "greyscale": None, "folder": RESTART_FOLDER}
    ]
    train_in_stages(Trainer(), options(output=tmp_path, epochs=10), (WarmRestart(0),), _silent)
    assert not (tmp_path / PLAN_FILE).exists()


def test_resume_continues_the_first_run_then_starts_the_restart(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6))
    Trainer(stop_after=3)(options(output=tmp_path, epochs=6))  # interrupted after epoch 3 of 6
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), _silent)
    assert [(c.output, c.resume) for c in train.calls] == [(tmp_path, True), (tmp_path / RESTART_FOLDER, False)]


def test_resume_after_the_first_run_starts_the_restart(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6))
    Trainer()(options(output=tmp_path, epochs=6))
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), _silent)
    assert [(c.output, c.resume, c.init) for c in train.calls] == [
        (tmp_path / RESTART_FOLDER, False, tmp_path / "best.safetensors")
    ]


def test_resume_continues_an_interrupted_restart(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6))
    Trainer()(options(output=tmp_path, epochs=6))
    Trainer(stop_after=1)(options(output=tmp_path / RESTART_FOLDER, epochs=4))
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), _silent)
    assert [(c.output, c.resume, c.epochs) for c in train.calls] == [(tmp_path / RESTART_FOLDER, True, 4)]


def test_resume_of_a_restart_after_a_run_without_validation_starts_from_the_last_weights(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6))
    Trainer(validates=False)(options(output=tmp_path, epochs=6))
    Trainer(stop_after=1, validates=False)(options(output=tmp_path / RESTART_FOLDER, epochs=4))
    train = Trainer(validates=False)
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), _silent)
    assert [(c.resume, c.init) for c in train.calls] == [(True, tmp_path / "last.safetensors")]


def test_a_run_started_without_a_restart_resumes_as_one_schedule(tmp_path: Path) -> None:
    """Such as a run started with --restart-at 0, or before lipread trained with a restart: resumed with the
    default restart after epoch 2, it goes on to its --epochs in one schedule."""
    Trainer(stop_after=2)(options(output=tmp_path, epochs=3))
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=3, resume=True), (WarmRestart(2),), _silent)
    assert [(c.output, c.resume, c.epochs) for c in train.calls] == [(tmp_path, True, 3)]


def test_a_resumed_run_keeps_the_restart_it_was_started_with(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6, 1e-4, 2))
    Trainer(stop_after=3)(options(output=tmp_path, epochs=6))
    train, said = Trainer(), []
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(4),), said.append)
    assert [(c.epochs, c.lr, c.constant_epochs) for c in train.calls] == [(6, 5e-4, 52), (4, 1e-4, 2)]
    assert said[0] == (
        f"resuming with the stages the run was started with ({tmp_path / PLAN_FILE}: a warm restart after epoch 6)"
    )


def test_a_broken_plan_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / PLAN_FILE).write_text('{"at": -3}')
    with pytest.raises(DataError, match=f"{PLAN_FILE}: not a warm restart plan"):
        train_in_stages(Trainer(), options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), _silent)


@pytest.mark.parametrize(
    ("wers", "best"), [((0.2, 0.1), RESTART_FOLDER + "/best.safetensors"), ((0.1, 0.2), "best.safetensors")]
)
def test_the_best_model_is_the_better_of_the_two_runs(tmp_path: Path, wers: tuple[float, float], best: str) -> None:
    result = train_in_stages(Trainer(wers=wers), options(output=tmp_path, epochs=10), (WarmRestart(6),), _silent)
    assert result.best == tmp_path / best and result.last == tmp_path / RESTART_FOLDER / "last.safetensors"


class _Backend:
    name = "stub"
    capabilities = ("train",)

    def __init__(self) -> None:
        self.train = Trainer()


def test_lipread_train_runs_the_whole_recipe_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = _Backend()
    monkeypatch.setitem(lipread.backend._loaded, "stub", backend)
    monkeypatch.delenv("RANK", raising=False)
    run = tmp_path / "run"
    assert main(["train", str(tmp_path), "-o", str(run), "--backend", "stub", "--no-plot"]) == 0
    first, second, third = backend.train.calls
    assert (first.epochs, first.lr, first.constant_epochs, first.greyscale) == (68, 5e-4, 52, 0.0)
    assert (second.epochs, second.lr, second.constant_epochs, second.greyscale, second.init) == (
        30,
        3e-4,
        16,
        0.0,
        run / "best.safetensors",
    )
    assert (third.output, third.epochs, third.lr, third.constant_epochs, third.greyscale, third.init) == (
        run / GREY_FOLDER,
        12,
        1e-4,
        6,
        0.2,
        run / RESTART_FOLDER / "best.safetensors",
    )
    assert first.epochs + second.epochs + third.epochs == RECIPE_EPOCHS
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"best model: {run / GREY_FOLDER / 'best.safetensors'}",
        f"last model: {run / GREY_FOLDER / 'last.safetensors'}",
    ]


def test_lipread_train_into_a_run_folder_needs_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A folder that holds a run is not written over by a new one: --resume continues it."""
    backend = _Backend()
    monkeypatch.setitem(lipread.backend._loaded, "stub", backend)
    run = tmp_path / "run"
    run.mkdir()
    (run / "last.ckpt").write_bytes(b"an earlier run")
    assert main(["train", str(tmp_path), "-o", str(run), "--backend", "stub", "--no-plot"]) == 1
    assert capsys.readouterr().err == (
        f"lipread: error: {run}: holds a run already (last.ckpt); --resume continues it, and a new run needs "
        "another --output (or that folder emptied)\n"
    )
    assert backend.train.calls == [] and (run / "last.ckpt").read_bytes() == b"an earlier run"
    assert main(["train", str(tmp_path), "-o", str(run), "--backend", "stub", "--no-plot", "--resume"]) == 0
    assert backend.train.calls and all(c.resume for c in backend.train.calls[:1])


@pytest.mark.parametrize(
    ("flags", "runs"),
    [
        (["--restart-at", "0", "--grey-at", "0"], [("", RECIPE_EPOCHS)]),
        (["--restart-at", "0"], [("", 98), (GREY_FOLDER, 12)]),
        (["--grey-at", "0"], [("", 68), (RESTART_FOLDER, 42)]),
        (["--epochs", "98"], [("", 68), (RESTART_FOLDER, 30)]),
        (["--epochs", "40"], [("", 40)]),
    ],
)
def test_each_stage_can_be_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flags: list[str], runs: list[tuple[str, int]]
) -> None:
    backend = _Backend()
    monkeypatch.setitem(lipread.backend._loaded, "stub", backend)
    run = tmp_path / "run"
    assert main(["train", str(tmp_path), "-o", str(run), "--backend", "stub", "--no-plot", *flags]) == 0
    assert [(c.output, c.epochs) for c in backend.train.calls] == [(run / folder, n) for folder, n in runs]


def test_a_tiny_torch_run_restarts_from_its_best_weights(
    train_tiny: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Three epochs of a narrow model on four clips through the command: one, one of warm restart, one of grey
    fine-tune."""
    from lipread.weights import read_metadata

    run = tmp_path / "run"
    code = train_tiny(run, "--epochs", "3", "--restart-at", "1", "--restart-lr", "0.002", "--grey-at", "2", "--no-plot")
    assert code == 0
    out, err = capsys.readouterr()

    def history(folder: Path) -> list[tuple[int, float]]:
        return [(h["epoch"], h["lr"]) for h in map(json.loads, (folder / "history.jsonl").read_text().splitlines())]

    assert history(run) == [(1, 5e-4)]
    assert history(run / RESTART_FOLDER) == [(1, 0.002)]
    assert history(run / GREY_FOLDER) == [(1, 1e-4)]
    assert f"starting from the weights of {run / 'best.safetensors'}" in out + err
    assert out.splitlines()[-1] == f"last model: {run / GREY_FOLDER / 'last.safetensors'}"
    assert read_metadata(run / GREY_FOLDER / "last.safetensors")["trained_on"]["greyscale"] == 0.2
    assert read_metadata(run / RESTART_FOLDER / "last.safetensors")["trained_on"].get("greyscale", 0) == 0
    assert not (run / RESTART_FOLDER / "cache").exists() and not (run / GREY_FOLDER / "cache").exists()


@pytest.mark.parametrize(
    ("flags", "said"),
    [(["--restart-lr", "inf"], "lr"), (["--grey-at", "68"], "both start after epoch 68")],
)
def test_a_bad_restart_option_stops_before_the_run_folder_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], said: str
) -> None:
    run = tmp_path / "run"
    assert main(["train", str(tmp_path), "-o", str(run), "--backend", "torch", *flags]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err
    assert not run.exists()


def test_resuming_a_finished_run_trains_nothing_and_says_so_in_the_commands_terms(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6))
    Trainer()(options(output=tmp_path, epochs=6))
    Trainer()(options(output=tmp_path / RESTART_FOLDER, epochs=4))
    train, said = Trainer(), []
    result = train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6),), said.append)
    assert train.calls == [] and result.last == tmp_path / RESTART_FOLDER / "last.safetensors"
    assert said == [
        "all 10 epochs are trained (6, then 4 epochs of warm restart): nothing more to train (a larger --epochs "
        "goes on)"
    ]


def test_a_run_that_another_follows_trains_with_more_training_set(tmp_path: Path) -> None:
    """The backend keeps what the restart needs (torch's process group under torchrun) only for the first run."""
    seen: list[str | None] = []

    def train(o: TrainOptions) -> TrainResult:
        seen.append(os.environ.get(MORE_TRAINING))
        return Trainer()(o)

    train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6),), _silent)
    assert seen == ["1", None] and MORE_TRAINING not in os.environ


GREY = WarmRestart(8, 1e-4, 1, greyscale=0.2, folder=GREY_FOLDER)


def test_three_stages_each_from_the_best_so_far(tmp_path: Path) -> None:
    """The warm restart read worse than the first run, so the grey fine-tune starts from the first run's best."""
    train = Trainer(wers=(0.1, 0.2, 0.3))
    result = train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6, 3e-4, 1), GREY), _silent)
    assert [(c.output, c.epochs, c.lr, c.greyscale, c.init) for c in train.calls] == [
        (tmp_path, 6, 5e-4, 0.0, None),
        (tmp_path / RESTART_FOLDER, 2, 3e-4, 0.0, tmp_path / "best.safetensors"),
        (tmp_path / GREY_FOLDER, 2, 1e-4, 0.2, tmp_path / "best.safetensors"),
    ]
    # The grey fine-tune's best is the run's, though the first run validated better: validation reads colour
    # clips, and what the stage adds is reading grey ones.
    assert result.best == tmp_path / GREY_FOLDER / "best.safetensors"


def test_a_plain_restart_after_others_is_weighed_against_the_best_so_far(tmp_path: Path) -> None:
    second = WarmRestart(8, 1e-4, 1, folder="again")
    train = Trainer(wers=(0.1, 0.3, 0.2))
    result = train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6), second), _silent)
    assert train.calls[2].init == tmp_path / "best.safetensors" and result.best == tmp_path / "best.safetensors"


def test_the_stages_are_taken_in_the_order_of_their_epochs(tmp_path: Path) -> None:
    train = Trainer()
    train_in_stages(train, options(output=tmp_path, epochs=10), (GREY, WarmRestart(6)), _silent)
    assert [c.output for c in train.calls] == [tmp_path, tmp_path / RESTART_FOLDER, tmp_path / GREY_FOLDER]


@pytest.mark.parametrize(
    ("restarts", "message"),
    [
        ((WarmRestart(6), dataclasses.replace(GREY, at=6)), "both start after epoch 6"),
        ((WarmRestart(6), WarmRestart(8)), "two stages train in the same folder"),
    ],
)
def test_clashing_stages_are_refused(tmp_path: Path, restarts: tuple[WarmRestart, ...], message: str) -> None:
    with pytest.raises(DataError, match=message):
        train_in_stages(Trainer(), options(output=tmp_path, epochs=10), restarts, _silent)


def test_resume_after_the_restart_starts_the_grey_fine_tune(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6), GREY)
    Trainer(wers=(0.2,))(options(output=tmp_path, epochs=6))
    Trainer(wers=(0.1,))(options(output=tmp_path / RESTART_FOLDER, epochs=2))
    train, said = Trainer(), []
    train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), (WarmRestart(6), GREY), said.append)
    assert [(c.output, c.resume, c.init, c.epochs) for c in train.calls] == [
        (tmp_path / GREY_FOLDER, False, tmp_path / RESTART_FOLDER / "best.safetensors", 2)
    ]
    assert said[0] == f"the first 8 epochs are trained in {tmp_path}"


def test_resuming_a_finished_three_stage_run_names_each_stage(tmp_path: Path) -> None:
    _started_with(tmp_path, WarmRestart(6), GREY)
    Trainer()(options(output=tmp_path, epochs=6))
    Trainer()(options(output=tmp_path / RESTART_FOLDER, epochs=2))
    Trainer()(options(output=tmp_path / GREY_FOLDER, epochs=2))
    train, said = Trainer(), []
    restarts = (WarmRestart(6), GREY)
    result = train_in_stages(train, options(output=tmp_path, epochs=10, resume=True), restarts, said.append)
    assert train.calls == [] and result.best == tmp_path / GREY_FOLDER / "best.safetensors"
    assert said == [
        "all 10 epochs are trained (6, then 2 epochs of warm restart, then 2 epochs of grey fine-tune): nothing "
        "more to train (a larger --epochs goes on)"
    ]


def test_a_run_started_with_a_plan_of_one_restart_resumes_with_it(tmp_path: Path) -> None:
    """Runs started before the grey fine-tune was a stage hold one restart as a JSON object, not a list."""
    (tmp_path / PLAN_FILE).write_text('{"at": 6, "lr": 0.0003, "constant_epochs": 16}')
    Trainer()(options(output=tmp_path, epochs=6))
    train, said = Trainer(), []
    train_in_stages(train, options(output=tmp_path, epochs=12, resume=True), RECIPE, said.append)
    assert [(c.output, c.epochs) for c in train.calls] == [(tmp_path / RESTART_FOLDER, 6)]
    assert said[0].startswith("resuming with the stages the run was started with") and "grey" not in said[0]


def test_no_time_left_starts_no_grey_fine_tune(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.0 + 60 * 2, 100.0 + 60 * 5])
    monkeypatch.setattr(restart_module.time, "monotonic", lambda: next(clock))
    train, said = Trainer(), []
    restarts = (WarmRestart(6), GREY)
    result = train_in_stages(train, options(output=tmp_path, epochs=10, time_limit=5.0), restarts, said.append)
    assert [c.output for c in train.calls] == [tmp_path, tmp_path / RESTART_FOLDER]
    assert train.calls[1].time_limit == pytest.approx(3.0) and result.output == tmp_path / RESTART_FOLDER
    assert said[-1] == "time limit of 5.0 min reached before the grey fine-tune; continue with --resume"


def test_only_the_last_run_trains_without_more_training_set(tmp_path: Path) -> None:
    seen: list[str | None] = []

    def train(o: TrainOptions) -> TrainResult:
        seen.append(os.environ.get(MORE_TRAINING))
        return Trainer()(o)

    train_in_stages(train, options(output=tmp_path, epochs=10), (WarmRestart(6), GREY), _silent)
    assert seen == ["1", "1", None]
