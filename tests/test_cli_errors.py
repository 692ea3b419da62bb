"""One behaviour everywhere: every error the ``lipread`` command prints is one line on stderr,
``lipread: error: <file>: <what is wrong>``, names the file, folder or option it is about, and comes with exit
status 1 (2 for bad usage, after the usage summary), never with a traceback. ``lipread info`` takes folders as
``transcribe`` does.

Everything runs in this process through :func:`lipread.cli.app.main` (an uncaught exception would fail the test,
as a traceback would), except one run of the installed entry point; nothing loads a model but the lexicon test.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from lipread import cli
from lipread.cli import info as info_command
from lipread.models import DEFAULT_MODEL, get_shipped
from lipread.report import PREFIX, error_line, report_skipped

ROOT = Path(__file__).resolve().parents[1]

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def lipread(capsys: pytest.CaptureFixture[str]) -> Run:
    """``lipread(*argv) -> (exit status, stdout, stderr)`` through :func:`lipread.cli.app.main`."""

    def run(*argv: object) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            status = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse: --help, --version and usage errors
            status = int(e.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return run


def error_lines(err: str) -> list[str]:
    """The lines of stderr other than a usage summary (``usage: ...`` and its indented continuation)."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))]


def assert_reported(err: str, *paths: object) -> None:
    """Every error line is in the one format, and each of ``paths`` starts one of them."""
    assert "Traceback" not in err
    lines = error_lines(err)
    assert lines, "nothing reported"
    assert all(line.startswith(PREFIX) for line in lines), lines
    for path in paths:
        assert any(line.startswith(f"{PREFIX}{path}: ") for line in lines), (path, lines)


def info_line(path: Path) -> str:
    return f"{path}: 75 frames, 25 fps, 360x288 pixels, 3.00 s"


# --- lipread info on folders ---------------------------------------------------------------------------------


def test_info_reuses_the_folder_expansion_of_transcribe() -> None:
    from lipread.video import discovery

    assert info_command.find_videos is discovery.find_videos


def test_info_on_a_folder_of_grid_clips(lipread: Run, grid_root: Path) -> None:
    folder = grid_root / "mpg"
    clips = sorted(folder.glob("*.mpg"))
    assert len(clips) >= 2
    status, out, err = lipread("info", folder)
    assert (status, err) == (0, "")
    assert out.splitlines() == [info_line(p) for p in clips]


@pytest.fixture()
def mixed_folder(tmp_path: Path, grid_clip: Path) -> tuple[Path, Path, Path]:
    """(folder, its good clip, its broken file): one GRID clip, one text file named .mp4, and a non-video."""
    folder = tmp_path / "videos"
    (folder / "nested").mkdir(parents=True)
    good = folder / "nested" / "good.mp4"
    shutil.copy(grid_clip, good)
    bad = folder / "broken.mp4"
    bad.write_text("not a video\n" * 20)
    (folder / "notes.txt").write_text("not a video extension: ignored\n")
    return folder, good, bad


def test_info_on_a_folder_reports_the_bad_file_and_goes_on(lipread: Run, mixed_folder: tuple[Path, Path, Path]) -> None:
    folder, good, bad = mixed_folder
    status, out, err = lipread("info", folder)
    assert status == 1
    assert out.splitlines() == [info_line(good)]
    assert_reported(err, bad)
    assert error_lines(err) == [
        f"{PREFIX}{bad}: cannot decode video (not a video file, or a format OpenCV's FFmpeg cannot read)"
    ]


def test_a_model_file_given_as_a_video_is_called_a_model(lipread: Run, tmp_path: Path) -> None:
    """Arguments swapped (``lipread transcribe model.onnx``): the message says what the file is."""
    for name in ("model.onnx", "model.safetensors"):
        model = tmp_path / name
        model.write_bytes(b"\x08\x07" + bytes(200))
        status, out, err = lipread("info", model)
        assert (status, out) == (1, "")
        assert error_lines(err) == [
            f"{PREFIX}{model}: a model file, not a video (a model is given with --model, or model=)"
        ]


def test_info_on_a_folder_without_videos(lipread: Run, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no videos here\n")
    status, out, err = lipread("info", empty)
    assert (status, out) == (1, "")
    assert error_lines(err) == [
        f"{PREFIX}{empty}: no videos found (.mp4, .mpg, .mpeg, .avi, .mov, .mkv, .webm, .m4v) "
        "and no frame folders (numbered images)"
    ]


def test_info_on_files_and_folders_together(lipread: Run, grid_clip: Path, tmp_path: Path) -> None:
    empty, missing = tmp_path / "empty", tmp_path / "missing.mp4"
    empty.mkdir()
    status, out, err = lipread("info", empty, grid_clip, missing)
    assert status == 1
    assert out.splitlines() == [info_line(grid_clip)]
    assert_reported(err, empty, missing)
    assert len(error_lines(err)) == 2


# --- every error names its file, in one format ---------------------------------------------------------------

BadInput = Callable[[Path], tuple[list[object], object, str]]
"""tmp_path -> (argv, the path the error must start with, a part of the reason)."""


def _lexicon(content: bytes | None) -> BadInput:
    def make(tmp: Path) -> tuple[list[object], object, str]:
        words = tmp / "words.txt"
        if content is not None:
            words.write_bytes(content)
        return ["transcribe", tmp / "clip.mp4", "--decoder", "lexicon", "--lexicon", words], words, REASONS[content]

    return make


REASONS = {
    b"": "the word list is empty",
    b"  \n\n": "the word list is empty",
    b"\xff\xfebin\n": "not UTF-8 text",
    None: "cannot read the word list: No such file or directory",
}


def _lexicon_folder(tmp: Path) -> tuple[list[object], object, str]:
    (tmp / "words").mkdir()
    return ["transcribe", tmp / "clip.mp4", "--lexicon", tmp / "words"], tmp / "words", "cannot read the word list"


def _model(name: str, content: bytes | None, reason: str) -> BadInput:
    def make(tmp: Path) -> tuple[list[object], object, str]:
        model = tmp / name
        if content is not None:
            model.write_bytes(content)
        return ["transcribe", tmp / "clip.mp4", "--model", model], model, reason

    return make


def _model_folder(tmp: Path) -> tuple[list[object], object, str]:
    (tmp / "model").mkdir()
    return ["transcribe", tmp / "clip.mp4", "--model", tmp / "model"], tmp / "model", "is a folder"


def _output_dir_is_a_file(tmp: Path) -> tuple[list[object], object, str]:
    (tmp / "out").write_text("a file\n")
    argv: list[object] = ["transcribe", tmp / "clip.mp4", "--format", "srt", "--output-dir", tmp / "out"]
    return argv, tmp / "out", "--output-dir is not a folder"


def _transcribe_missing(tmp: Path) -> tuple[list[object], object, str]:
    (tmp / "nothing").mkdir()
    return ["transcribe", tmp / "nothing"], tmp / "nothing", "no videos found"


def _eval_missing(tmp: Path) -> tuple[list[object], object, str]:
    return ["eval", tmp / "nowhere"], tmp / "nowhere", "data folder not found"


def _adapt_missing_manifest(tmp: Path) -> tuple[list[object], object, str]:
    return ["adapt", tmp / "clips.csv", "-o", tmp / "run"], tmp / "clips.csv", "manifest not found"


def _eval_empty(tmp: Path) -> tuple[list[object], object, str]:
    return ["eval", tmp], tmp, "no GRID clips found"


def _eval_bad_alignment(tmp: Path) -> tuple[list[object], object, str]:
    (tmp / "s1").mkdir()
    (tmp / "alignments" / "s1").mkdir(parents=True)
    (tmp / "s1" / "bbaf2n.mp4").write_bytes(b"never decoded: the alignment fails first")
    (tmp / "alignments" / "s1" / "bbaf2n.align").write_text("0 23750 sil\ngarbage\n")
    # the clip is reported (naming the video and the alignment's line), then the folder has no clips left
    return ["eval", tmp], tmp / "s1" / "bbaf2n.mp4", f"skipped: {tmp / 'alignments' / 's1' / 'bbaf2n.align'}:2: "


def _train_model_config(content: str | None, reason: str) -> BadInput:
    def make(tmp: Path) -> tuple[list[object], object, str]:
        config = tmp / "config.json"
        if content is not None:
            config.write_text(content)
        return ["train", tmp, "-o", tmp / "run", "--model-config", config], config, reason

    return make


def _import_notebook(tmp: Path) -> tuple[list[object], object, str]:
    return ["import", "notebook", tmp / "nowhere", "-o", tmp / "x.safetensors"], tmp / "nowhere", ""


BAD_INPUTS: dict[str, BadInput] = {
    "empty lexicon": _lexicon(b""),
    "blank lexicon": _lexicon(b"  \n\n"),
    "lexicon not UTF-8": _lexicon(b"\xff\xfebin\n"),
    "missing lexicon": _lexicon(None),
    "lexicon is a folder": _lexicon_folder,
    "missing model": _model("none.onnx", None, "neither a shipped model"),
    "model not a checkpoint": _model("model.safetensors", b"garbage", "not a lipread checkpoint"),
    "model is a folder": _model_folder,
    "output dir is a file": _output_dir_is_a_file,
    "folder without videos": _transcribe_missing,
    "eval: missing data folder": _eval_missing,
    "adapt: missing manifest": _adapt_missing_manifest,
    "eval: folder without clips": _eval_empty,
    "eval: bad alignment file": _eval_bad_alignment,
    "train: missing model config": _train_model_config(None, "cannot read model config"),
    "train: bad model config": _train_model_config('{"rnn": "tcn"}', "not a valid model config"),
    "train: a model config without a field": _train_model_config(
        '{"name": "x"}', "not a valid model config: the field 'vocabulary' is missing"
    ),
    "import: missing checkpoint": _import_notebook,
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_naming_its_file(lipread: Run, tmp_path: Path, case: str) -> None:
    argv, path, reason = BAD_INPUTS[case](tmp_path)
    status, out, err = lipread(*argv)
    assert status == 1, err
    assert out == ""
    assert_reported(err, path)
    assert reason in err


def test_standard_input_is_not_read(lipread: Run) -> None:
    pytest.importorskip("onnxruntime", reason="the model is loaded before the video is opened")
    status, out, err = lipread("transcribe", "-")
    assert (status, out) == (1, "")
    assert error_lines(err) == [
        f"{PREFIX}-: video file not found (lipread reads files, not standard input: give the video's path)"
    ]


def test_lexicon_word_the_model_cannot_spell_names_the_file(lipread: Run, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    if not get_shipped(DEFAULT_MODEL).has("onnx"):
        pytest.skip(f"{DEFAULT_MODEL}.onnx is not part of this build")
    words = tmp_path / "words.txt"
    words.write_text("bin\ncafé\n", encoding="utf-8")
    status, out, err = lipread("transcribe", tmp_path / "clip.mp4", "--decoder", "lexicon", "--lexicon", words)
    assert (status, out) == (1, "")
    assert error_lines(err) == [f"{PREFIX}{words}: lexicon: character 'é' of 'café' is not in the vocabulary"]


def test_bad_onnx_model_names_the_file(lipread: Run, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not an onnx model")
    status, out, err = lipread("transcribe", tmp_path / "clip.mp4", "--model", model)
    assert (status, out) == (1, "")
    assert_reported(err, model)


@pytest.mark.parametrize("where", ["folder", "under a file"])
def test_preview_to_a_bad_output_path(lipread: Run, grid_clip: Path, tmp_path: Path, where: str) -> None:
    if where == "folder":
        target = tmp_path / "out.gif"
        target.mkdir()
    else:
        (tmp_path / "file").write_text("a file\n")
        target = tmp_path / "file" / "out.gif"
    status, out, err = lipread("preview", grid_clip, "-o", target, "--preset", "lipnet-notebook")
    assert (status, out) == (1, "")
    assert_reported(err, target)
    assert "cannot write the GIF" in err
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]  # no temporary file is left behind


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--lexicon", "words.txt", "--decoder", "beam"], "--lexicon is only used with --decoder lexicon, not with"),
        (["--output-dir", "subs"], "--output-dir is only used with --format srt or vtt, not with --format txt"),
    ],
)
def test_an_option_that_would_be_ignored_is_refused(
    lipread: Run, grid_clip: Path, options: list[str], message: str
) -> None:
    status, out, err = lipread("transcribe", grid_clip, *options)
    assert (status, out) == (2, "")  # a usage error: the command's usage, then the one error line
    assert err.startswith("usage: lipread transcribe ")
    assert error_lines(err) == [error_lines(err)[0]] and error_lines(err)[0].startswith(f"{PREFIX}{message}")


def test_a_word_list_implies_the_lexicon_decoder(lipread: Run, grid_clip: Path, tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="reads with the shipped model on the onnx backend")
    words = tmp_path / "words.txt"
    words.write_text("bin\nblue\nat\nf\ntwo\nnow\n")
    status, out, err = lipread("transcribe", grid_clip, "--lexicon", words, "--format", "json")
    assert (status, err) == (0, "")
    transcript = json.loads(out)
    assert transcript["decoder"] == "lexicon" and set(transcript["text"].split()) <= {
        "bin",
        "blue",
        "at",
        "f",
        "two",
        "now",
    }


def test_preview_writes_only_a_gif(lipread: Run, grid_clip: Path, tmp_path: Path) -> None:
    status, out, err = lipread("preview", grid_clip, "-o", tmp_path / "crop.png")
    assert (status, out) == (1, "")
    assert err == f"{PREFIX}{tmp_path / 'crop.png'}: the file to write must end in .gif (the preview is a GIF)\n"
    assert not list(tmp_path.iterdir())


def test_export_refuses_what_lipread_could_not_read_back(lipread: Run, tmp_path: Path) -> None:
    checkpoint = get_shipped(DEFAULT_MODEL).file("checkpoint")
    status, out, err = lipread("export", checkpoint, "-o", tmp_path / "model.txt")
    assert (status, out, err) == (1, "", f"{PREFIX}{tmp_path / 'model.txt'}: the file to write must end in .onnx\n")
    onnx = get_shipped(DEFAULT_MODEL).file("onnx")
    status, out, err = lipread("export", onnx, "-o", tmp_path / "model.onnx")
    assert (status, out) == (1, "")
    assert err == f"{PREFIX}{onnx}: an ONNX model cannot be exported again; give its .safetensors checkpoint instead\n"
    assert not list(tmp_path.iterdir())


@pytest.mark.torch
def test_export_takes_a_shipped_model_by_name(lipread: Run, tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the torch backend exports")
    pytest.importorskip("onnx", reason="exporting writes ONNX")
    status, out, err = lipread("export", DEFAULT_MODEL, "-o", tmp_path / "model.onnx")
    assert (status, out.strip(), err) == (0, str(tmp_path / "model.onnx"), "")


# --- usage errors: exit status 2, the same line after the usage summary --------------------------------------

USAGE = [
    (["transcribe", "clip.mp4", "--batch-size", "0"], "transcribe", "argument --batch-size: must be positive, not 0"),
    (["transcribe", "clip.mp4", "--batch-size", "two"], "transcribe", "argument --batch-size: not a whole number"),
    (["transcribe", "clip.mp4", "--beam-width", "0"], "transcribe", "argument --beam-width: must be positive"),
    (["transcribe", "clip.mp4", "--threads", "-1"], "transcribe", "argument --threads: must be positive"),
    (["transcribe", "clip.mp4", "--decoder", "best"], "transcribe", "argument --decoder: invalid choice"),
    (["eval", "grid", "--batch-size", "0"], "eval", "argument --batch-size: must be positive"),
    (["eval", "grid", "--max-clips", "0"], "eval", "argument --max-clips: must be positive"),
    (["train", "grid", "-o", "run", "--epochs", "0"], "train", "argument --epochs: must be positive"),
    (["train", "grid", "-o", "run", "--workers", "-2"], "train", "argument --workers: must be 0 or more"),
    (["train", "grid", "-o", "run", "--lr", "-1"], "train", "argument --lr: must be positive, not -1"),
    (["train", "grid", "-o", "run", "--val-fraction", "1.5"], "train", "argument --val-fraction: must be from 0 to 1"),
    (["train", "grid", "-o", "run", "--decay", "-1"], "train", "argument --decay: must be 0 or more"),
    (["train", "grid"], "train", "the following arguments are required: -o/--output"),
    (["preview", "clip.mp4", "-o", "x.gif", "--scale", "0"], "preview", "argument --scale: must be positive"),
    (["info"], "info", "the following arguments are required: VIDEO_OR_FOLDER"),
    (["info", ""], "info", "argument VIDEO_OR_FOLDER: an empty path"),
    (["transcribe", ""], "transcribe", "argument VIDEO_OR_FOLDER: an empty path"),
    (["train", "grid", "-o", ""], "train", "argument -o/--output: an empty path"),
    (["live", ""], "live", "argument SOURCE: an empty source"),
    (
        ["adapt", "mine.csv", "-o", "run", "--freeze", "none", "frontend"],
        "adapt",
        "--freeze none trains every weight; it does not go with frontend",
    ),
    (
        ["transcribe", "https://example.com/x.mp4"],
        "transcribe",
        "argument VIDEO_OR_FOLDER: https://example.com/x.mp4 is an address, not a file: lipread reads files on this "
        "machine and downloads nothing (lipread live reads a stream's address)",
    ),
    (
        ["transcribe", "clip.mp4", "--fps", "inf"],
        "transcribe",
        "argument --fps: a frame rate from 1 to 1000 fps, not inf",
    ),
    (["transcribe", "clip.mp4", "--fps", "nan"], "transcribe", "argument --fps: a frame rate from 1 to 1000 fps"),
    (["info", "clip.mp4", "--fps", "1e9"], "info", "argument --fps: a frame rate from 1 to 1000 fps, not 1e9"),
    (["eval", "grid", "--fps", "0.5"], "eval", "argument --fps: a frame rate from 1 to 1000 fps, not 0.5"),
    (["preview", "clip.mp4", "-o", "x.gif", "--fps", "0.001"], "preview", "argument --fps: a frame rate from 1"),
    (["live", "clip.mp4", "--fps", "inf"], "live", "argument --fps: a frame rate from 1 to 1000 fps, not inf"),
    (["live", "clip.mp4", "--hop", "7"], "live", "argument --hop: must be from 8 to 50, not 7"),
    (["live", "clip.mp4", "--pause", "0.01"], "live", "argument --pause: must be from 0.04 s to 60 s, not 0.01"),
    (["live", "clip.mp4", "--longest", "1e308"], "live", "argument --longest: must be from 0.04 s to 60 s, not 1e308"),
    (["no-such-command"], "", "argument COMMAND: invalid choice: 'no-such-command'"),
    (["--no-such-option"], "", "unrecognized arguments: --no-such-option"),
    (["transcribe", "clip.mp4", "--badopt", "x"], "transcribe", "unrecognized arguments: --badopt x"),
    (["eval", "grid", "--no-such", "4"], "eval", "unrecognized arguments: --no-such 4"),
    (
        ["export", "m.safetensors", "-o", "m.onnx", "--quantize", "int8", "--fp16-weights"],
        "export",
        "--quantize int8 and --fp16-weights do not go together; choose one",
    ),
]


@pytest.mark.parametrize(("argv", "command", "message"), USAGE)
def test_usage_errors(lipread: Run, argv: list[str], command: str, message: str) -> None:
    status, out, err = lipread(*argv)
    assert (status, out) == (2, "")
    assert err.startswith(f"usage: lipread {command}".rstrip() + " ")
    assert_reported(err)
    assert error_lines(err) == [error_lines(err)[0]] and error_lines(err)[0].startswith(f"{PREFIX}{message}")


# --- what the command catches, and what it does not ----------------------------------------------------------


def test_an_os_error_about_a_file_is_one_line(lipread: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from lipread.cli import backends

    def fail(args: object) -> int:
        raise PermissionError(13, "Permission denied", "/read-only/model.onnx")

    monkeypatch.setattr(backends, "run", fail)
    status, out, err = lipread("backends")
    assert (status, out, err) == (1, "", f"{PREFIX}/read-only/model.onnx: Permission denied\n")


def test_output_to_a_full_disk_is_one_line(lipread: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    from lipread.cli import app, backends

    def fail(args: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as print() to a full disk raises it: no file

    monkeypatch.setattr(backends, "run", fail)
    monkeypatch.setattr(app, "_silence_stdout", lambda: None)  # the test's captured stdout has no descriptor
    status, out, err = lipread("backends")
    assert (status, out, err) == (1, "", f"{PREFIX}cannot write the output: {os.strerror(errno.ENOSPC)}\n")


def test_a_warning_of_lipread_is_one_line_and_others_stay_pythons(
    lipread: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    import lipread as package
    from lipread.cli import backends

    def warn(args: object) -> int:
        warnings.simplefilter("always")
        warnings.warn_explicit("cache: cannot write the crop cache", RuntimeWarning, package.__file__, 1)
        warnings.warn_explicit("something else", DeprecationWarning, "/elsewhere/module.py", 7)
        return 0

    monkeypatch.setattr(backends, "run", warn)
    with pytest.warns(DeprecationWarning, match="something else"):  # Python's own means, here pytest's
        status, out, err = lipread("backends")
    assert (status, out) == (0, "")
    assert err.splitlines()[0] == "lipread: warning: cache: cannot write the crop cache"
    assert "something else" not in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device that is always full")
@pytest.mark.parametrize("args", [["backends"], ["--help"], ["transcribe", "--help"], ["--version"]])
def test_the_entry_point_writing_to_a_full_device_is_one_line(args: list[str]) -> None:
    """Help and version too: argparse itself ignores a failed write, which left them silent with status 0."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "lipread", *args], cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert (done.returncode, done.stderr) == (1, f"{PREFIX}cannot write the output: No space left on device\n")


def test_an_interrupt_while_the_parser_is_built_is_one_line(lipread: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    from lipread.cli import app

    def interrupted() -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(app, "build_parser", interrupted)
    assert lipread("transcribe", "clip.mp4") == (130, "", "lipread: interrupted\n")


@pytest.mark.parametrize("bug", [ValueError("a bug"), OSError("a bug with no file"), TypeError("a bug")])
def test_a_bug_still_shows_its_traceback(lipread: Run, monkeypatch: pytest.MonkeyPatch, bug: Exception) -> None:
    from lipread.cli import backends

    def fail(args: object) -> int:
        raise bug

    monkeypatch.setattr(backends, "run", fail)
    with pytest.raises(type(bug)):
        lipread("backends")


def test_error_line() -> None:
    assert error_line("video file not found", "a.mp4") == "lipread: error: a.mp4: video file not found"
    assert error_line("a.mp4: video file not found", "a.mp4") == "lipread: error: a.mp4: video file not found"
    assert error_line(ValueError("x"), Path("d") / "a.mp4") == f"lipread: error: {Path('d') / 'a.mp4'}: x"
    assert error_line("argument --x: bad") == "lipread: error: argument --x: bad"
    assert error_line("Permission denied", b"out.gif") == "lipread: error: out.gif: Permission denied"
    # named once where the message starts with it or with a file inside it, but not where it is only a word
    assert error_line("clip/12.jpg: cannot be read", "clip") == "lipread: error: clip/12.jpg: cannot be read"
    assert error_line("frame rate resampled: frames repeated", "frames") == (
        "lipread: error: frames: frame rate resampled: frames repeated"
    )
    assert error_line("framesx: bad", "frames") == "lipread: error: frames: framesx: bad"


def test_report_skipped(capsys: pytest.CaptureFixture[str]) -> None:
    """Training data and data set indexing report a clip they leave out in the same format, naming it once."""
    report_skipped(Path("s1") / "a.mp4", f"{Path('s1') / 'a.mp4'}: video file is empty (0 bytes)")
    report_skipped("s1/b.mp4", ValueError("character 'é' is not in the 'lipnet' vocabulary"))
    assert capsys.readouterr().err.splitlines() == [
        f"lipread: error: {Path('s1') / 'a.mp4'}: skipped: video file is empty (0 bytes)",
        "lipread: error: s1/b.mp4: skipped: character 'é' is not in the 'lipnet' vocabulary",
    ]


# --- the installed command ----------------------------------------------------------------------------------


def test_entry_point_prints_no_traceback(mixed_folder: tuple[Path, Path, Path], tmp_path: Path) -> None:
    folder, good, bad = mixed_folder
    empty = tmp_path / "empty"
    empty.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "lipread", "info", str(folder), str(empty)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == [info_line(good)]
    assert_reported(done.stderr, bad, empty)
    words = tmp_path / "words.txt"
    words.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "lipread", "transcribe", str(good), "--decoder", "lexicon", "--lexicon", str(words)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == f"{PREFIX}{words}: the word list is empty (one word per line expected)\n"


def test_a_reader_that_leaves_early_is_no_error(grid_root: Path) -> None:
    """``lipread info FOLDER | head -1``: the pipe closes after the first line; lipread stops without a
    traceback or an 'Exception ignored' message."""
    clips = sorted((grid_root / "s1").glob("*.mp4"))[:40]
    proc = subprocess.Popen(
        [sys.executable, "-m", "lipread", "info", *map(str, clips)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(str(clips[0]))
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


def test_train_takes_one_network(lipread: Run, tmp_path: Path) -> None:
    # (argparse tells a given value from the default by identity: "lipnet" here would be the default's string)
    status, out, err = lipread(
        "train", tmp_path, "-o", tmp_path / "run", "--preset", "lipnet-notebook", "--model-config", "a.json"
    )
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == "lipread: error: argument --model-config: not allowed with argument --preset"
