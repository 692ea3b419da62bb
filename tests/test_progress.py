"""Progress bars only where someone watches them: the rule (:mod:`lipread.progress`), ``--progress`` /
``--no-progress`` on every command that draws a bar, and the commands and trainers following the rule."""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

import pytest

from lipread import cli
from lipread.cli import train as train_command
from lipread.config import ConvBlock, ModelConfig, get_preset
from lipread.data.training import TrainOptions
from lipread.progress import progress_bar, show_progress

BAR_COMMANDS = ("transcribe", "eval", "train")
"""The sub-commands that draw a progress bar."""

TINY: ModelConfig = get_preset("lipnet").with_(
    name="tiny",
    height=25,
    width=50,
    frontend=(
        ConvBlock(4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)),
        ConvBlock(4, (3, 3, 3), padding=(1, 1, 1)),
        ConvBlock(4, (3, 3, 3), padding=(1, 1, 1)),
    ),
    rnn_hidden=8,
    rnn_layers=1,
)
"""A very small LipNet for one quick epoch of each trainer."""


class Terminal(io.StringIO):
    """A text stream that says it is (or is not) a terminal."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class NoIsatty:
    """A stream without ``isatty`` (some wrappers have none)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def pretend_terminal(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``sys.<name>`` (pytest's capture stream) say it is a terminal."""
    for name in names:
        monkeypatch.setattr(getattr(sys, name), "isatty", lambda: True, raising=False)


# The rule.


@pytest.mark.parametrize("tty", [True, False])
def test_forced_answers_ignore_the_stream(tty: bool) -> None:
    assert show_progress(True, Terminal(tty)) is True
    assert show_progress(False, Terminal(tty)) is False


def test_auto_follows_the_stream() -> None:
    assert show_progress(None, Terminal(True)) is True
    assert show_progress(None, Terminal(False)) is False
    assert show_progress(None, NoIsatty()) is False  # type: ignore[arg-type]
    closed = io.StringIO()
    closed.close()  # isatty raises ValueError once closed
    assert show_progress(None, closed) is False


def test_auto_looks_at_stderr_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal(True))
    assert show_progress() is True
    monkeypatch.setattr(sys, "stderr", Terminal(False))
    assert show_progress() is False
    monkeypatch.setattr(sys, "stderr", None)
    assert show_progress() is False


@pytest.mark.parametrize(
    ("progress", "tty", "drawn"),
    [(None, False, False), (None, True, True), (True, False, True), (False, True, False)],
)
def test_progress_bar_draws_only_when_the_rule_says(progress: bool | None, tty: bool, drawn: bool) -> None:
    stream = Terminal(tty)
    with progress_bar(range(3), progress=progress, file=stream, total=3, unit="clip") as bar:
        assert list(bar) == [0, 1, 2]  # a hidden bar still iterates
    assert ("3/3" in stream.getvalue()) is drawn


def test_progress_bar_disable_wins_and_writes_still_go_through() -> None:
    stream, out = Terminal(True), io.StringIO()
    with progress_bar(total=2, progress=True, disable=True, file=stream) as bar:
        bar.write("hello", file=out)
        bar.update(2)
    assert stream.getvalue() == "" and out.getvalue() == "hello\n"


def test_progress_bar_defaults_to_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    stderr = Terminal(True)
    monkeypatch.setattr(sys, "stderr", stderr)
    with progress_bar(total=2) as bar:
        bar.update(2)
    assert "2/2" in stderr.getvalue()


# The option.


@pytest.mark.parametrize("command", BAR_COMMANDS)
def test_every_command_with_a_bar_has_the_option(command: str) -> None:
    parser = cli.build_parser()
    positional = {"transcribe": ["clip.mp4"], "eval": ["data"], "train": ["data", "-o", "run"]}[command]
    assert parser.parse_args([command, *positional]).progress is None
    assert parser.parse_args([command, *positional, "--progress"]).progress is True
    assert parser.parse_args([command, *positional, "--no-progress"]).progress is False


def test_train_options_default_to_auto() -> None:
    assert TrainOptions(data=Path("."), output=Path(".")).progress is None
    parser = cli.build_parser()
    for flag, expected in (([], None), (["--progress"], True), (["--no-progress"], False)):
        args = parser.parse_args(["train", "data", "-o", "run", *flag])
        assert train_command.options_from_args(args).progress is expected


# The commands: a tiny ONNX model on real GRID clips.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from tiny_onnx import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def three_clips(grid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRID folder (shared layout) with three clips."""
    root = tmp_path_factory.mktemp("grid")
    (root / "s1").mkdir()
    (root / "alignments" / "s1").mkdir(parents=True)
    for name in ("bbaf2n", "bbaf3s", "lrae3s"):
        (root / "s1" / f"{name}.mp4").symlink_to(grid_root / "s1" / f"{name}.mp4")
        shutil.copy(grid_root / "alignments" / "s1" / f"{name}.align", root / "alignments" / "s1")
    return root


def lipread(*argv: str) -> int:
    return cli.main(list(argv))


CASES = [([], False, False), ([], True, True), (["--progress"], False, True), (["--no-progress"], True, False)]
"""(flags, stderr a terminal, bar expected)."""


@pytest.mark.parametrize(("flags", "tty", "drawn"), CASES)
def test_transcribe_bar(
    tiny: Path,
    three_clips: Path,
    flags: list[str],
    tty: bool,
    drawn: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if tty:
        pretend_terminal(monkeypatch, "stderr")
    assert lipread("transcribe", str(three_clips), "--model", str(tiny), "--decoder", "greedy", *flags) == 0
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3  # the transcripts never mix with the bar
    assert ("3/3" in err) is drawn, err
    if not drawn:
        assert err == ""


def test_transcribe_without_a_terminal_writes_nothing_to_fd_2(
    tiny: Path, three_clips: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert lipread("transcribe", str(three_clips), "--model", str(tiny), "--decoder", "greedy") == 0
    out, err = capfd.readouterr()
    assert len(out.splitlines()) == 3 and err == ""


@pytest.mark.parametrize(("flags", "tty", "drawn"), CASES)
def test_eval_bar(
    tiny: Path,
    three_clips: Path,
    flags: list[str],
    tty: bool,
    drawn: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if tty:
        pretend_terminal(monkeypatch, "stderr")
    argv = ["eval", str(three_clips), "--model", str(tiny), "--split", "all", "--decoder", "greedy", "--json"]
    assert lipread(*argv, *flags) == 0
    err = capsys.readouterr().err
    assert ("3/3" in err) is drawn, err
    if not drawn:
        assert err == ""


# The trainers: one tiny epoch each.


def train_options(grid_root: Path, tmp_path: Path, progress: bool | None) -> TrainOptions:
    return TrainOptions(
        data=grid_root,
        config=TINY,
        device="cpu",
        output=tmp_path / "run",
        cache=tmp_path / "cache",
        max_clips=2,
        train_on_validation=True,
        val_fraction=1.0,
        epochs=1,
        batch_size=2,
        beam_width=0,
        examples=0,
        workers=1,
        progress=progress,
    )


@pytest.mark.torch
@pytest.mark.parametrize(("progress", "tty", "drawn"), [(None, False, False), (None, True, True), (False, True, False)])
def test_torch_trainer_bars(
    grid_root: Path,
    tmp_path: Path,
    progress: bool | None,
    tty: bool,
    drawn: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("torch")
    from lipread_torch import backend

    if tty:
        pretend_terminal(monkeypatch, "stderr")
    backend.train(train_options(grid_root, tmp_path, progress))
    err = capsys.readouterr().err
    assert ("decoding clips" in err) is drawn, err
    assert ("epoch 1/1" in err) is drawn, err


@pytest.mark.tensorflow
@pytest.mark.parametrize(
    ("progress", "tty", "tqdm_bar", "keras_bar"),
    [
        (None, ("stderr",), True, False),  # Keras draws on stdout: not a terminal here
        (None, ("stderr", "stdout"), True, True),
        (False, ("stderr", "stdout"), False, False),
    ],
)
def test_tensorflow_trainer_bars(
    grid_root: Path,
    tmp_path: Path,
    progress: bool | None,
    tty: tuple[str, ...],
    tqdm_bar: bool,
    keras_bar: bool,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("tensorflow")
    from lipread_tf import backend

    pretend_terminal(monkeypatch, *tty)
    backend.train(train_options(grid_root, tmp_path, progress))
    out, err = capsys.readouterr()
    assert ("decoding clips" in err) is tqdm_bar, err
    assert ("step" in out) is keras_bar, out
