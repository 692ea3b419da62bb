"""``lipread train`` draws the run's curves into ``RUN/curves.png`` when it ends (``--plot`` / ``--no-plot``), and
a figure that cannot be drawn is one warning line, never a failed run."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lipread.backend
from lipread.cli.app import main
from lipread.data.training import TrainOptions, TrainResult

HAVE_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def _png_size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not an image"
    return image.shape[1], image.shape[0]


def _no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import matplotlib`` raises ImportError from now on in this test."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)


class _Backend:
    """A backend that trains in no time: it writes two epochs of history, as a trainer does."""

    name = "stub"
    capabilities = ("train",)

    def __init__(self) -> None:
        self.trained = 0

    def train(self, options: TrainOptions) -> TrainResult:
        self.trained += 1
        history = [
            {"epoch": n, "lr": 5e-4, "train_loss": 40.0 / n, "val_loss": 50.0 / n, "metrics": {"greedy_wer": 1 / n}}
            for n in (1, 2)
        ]
        (options.output / "history.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))
        return TrainResult(options.output, None, options.output / "last.safetensors", history)


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> _Backend:
    backend = _Backend()
    monkeypatch.setitem(lipread.backend._loaded, "stub", backend)  # what get_backend("stub") finds
    monkeypatch.delenv("RANK", raising=False)
    return backend


def _train(tmp_path: Path, *flags: str) -> tuple[int, Path]:
    run = tmp_path / "run"
    return main(["train", str(tmp_path), "-o", str(run), "--backend", "stub", *flags]), run


def test_the_curves_are_drawn_when_matplotlib_is_there(
    stub: _Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    code, run = _train(tmp_path)
    assert code == 0
    out, err = capsys.readouterr()
    # the figure before the models: the last line stays the model, which scripts read
    assert out.splitlines()[-2:] == [f"curves: {run / 'curves.png'}", f"last model: {run / 'last.safetensors'}"]
    assert err == ""
    assert _png_size(run / "curves.png") == (1000, 400)  # what lipread plot draws


def test_no_plot_draws_nothing(stub: _Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, run = _train(tmp_path, "--no-plot")
    assert code == 0 and stub.trained == 1
    out, err = capsys.readouterr()
    assert not (run / "curves.png").exists() and "curves" not in out and err == ""


def test_without_matplotlib_a_finished_run_warns_once_and_succeeds(
    stub: _Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_matplotlib(monkeypatch)
    code, run = _train(tmp_path)
    assert code == 0 and stub.trained == 1
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == f"last model: {run / 'last.safetensors'}"
    assert err == (
        f"lipread: warning: {run / 'curves.png'}: curves not drawn: drawing needs matplotlib, which is not "
        'installed; install it with: pip install "lipread[plot]"\n'
    )
    assert not (run / "curves.png").exists()


def test_plot_asked_for_without_matplotlib_stops_before_training(
    stub: _Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _no_matplotlib(monkeypatch)
    code, _ = _train(tmp_path, "--plot")
    assert code == 1 and stub.trained == 0
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("lipread: error: ") and 'pip install "lipread[plot]"' in line


def test_a_figure_that_fails_is_a_warning(
    stub: _Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import lipread.cli.plot

    def fail(*args: Any, **kwargs: Any) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(lipread.cli.plot, "draw_curves", fail)
    code, run = _train(tmp_path, "--plot") if HAVE_MATPLOTLIB else _train(tmp_path)
    assert code == 0
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"lipread: warning: {run / 'curves.png'}: curves not drawn: [Errno 13] Permission denied"


def test_only_the_first_process_of_a_distributed_run_draws(
    stub: _Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("RANK", "1")
    code, run = _train(tmp_path)
    assert code == 0 and not (run / "curves.png").exists() and capsys.readouterr().err == ""


def test_a_tiny_torch_run_ends_with_its_curves(
    train_tiny: Callable[..., int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One epoch of a narrow model on four clips, through the command, as a user runs it."""
    run = tmp_path / "run"
    code = train_tiny(run, "--epochs", "1")
    assert code == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["epoch"] for line in (run / "history.jsonl").read_text().splitlines()] == [1]
    if HAVE_MATPLOTLIB:
        lines = out.splitlines()
        assert f"curves: {run / 'curves.png'}" in lines and lines[-1] == f"last model: {run / 'last.safetensors'}"
        assert _png_size(run / "curves.png") == (1000, 400)
    else:
        assert not (run / "curves.png").exists()
        warnings = [line for line in err.splitlines() if line.startswith("lipread: warning: ")]
        assert warnings == [
            f"lipread: warning: {run / 'curves.png'}: curves not drawn: drawing needs matplotlib, which is not "
            'installed; install it with: pip install "lipread[plot]"'
        ]
