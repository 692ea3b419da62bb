"""``lipread transcribe`` and ``lipread eval`` with a tiny ONNX model built in the test and real GRID clips."""

from __future__ import annotations

import argparse
import errno
import json
import re
import shutil
import sys
from pathlib import Path

import pytest

import lipread
from lipread import cli
from lipread.cli import eval as eval_command
from lipread.cli import transcribe as transcribe_command
from lipread.data import grid
from lipread.data.align import Word as AlignedWord
from lipread.data.grid import is_grid_sentence
from lipread.errors import LipreadError

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from tiny_onnx import write_tiny_model

SRT_TIME = r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}"


def run_command(module: object, argv: list[str]) -> int:
    """Parse and run one sub-command the way ``lipread.cli.app.main`` does (LipreadError -> status 1)."""
    parser = argparse.ArgumentParser(prog="lipread")
    sub = parser.add_subparsers()
    module.add_parser(sub).set_defaults(_run=module.run)  # type: ignore[attr-defined]
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except LipreadError as e:
        print(f"lipread: error: {e}", file=sys.stderr)
        return 1


def transcribe(argv: list[str]) -> int:
    return run_command(transcribe_command, ["transcribe", *argv])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("model") / "tiny.onnx")


@pytest.fixture(scope="module")
def two_clips(grid_root: Path) -> list[Path]:
    return [grid_root / "s1" / "bbaf2n.mp4", grid_root / "s1" / "lrae3s.mp4"]


def test_commands_are_registered() -> None:
    assert "transcribe" in cli.COMMANDS and "eval" in cli.COMMANDS


def test_txt_single_prints_only_the_text(tiny: Path, grid_clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert transcribe([str(grid_clip), "--model", str(tiny), "--decoder", "grammar"]) == 0
    out = capsys.readouterr().out.strip()
    assert is_grid_sentence(out)


def test_txt_several_prints_path_and_text(
    tiny: Path, two_clips: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert transcribe([*map(str, two_clips), "--model", str(tiny), "--decoder", "grammar", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in two_clips]
    assert all(is_grid_sentence(line.split("\t")[1]) for line in lines)


def test_txt_keeps_a_path_with_a_tab_or_line_break_on_one_line(
    tiny: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    odd = [tmp_path / "a\nb.mp4", tmp_path / "tab\tc.mp4", tmp_path / "back\\slash.mp4"]
    for path in odd:
        shutil.copy(grid_clip, path)
    assert transcribe([str(tmp_path), "--model", str(tiny), "--decoder", "greedy", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.count("\t") == 1 for line in lines)
    written = sorted(line.split("\t")[0] for line in lines)
    assert written == sorted([f"{tmp_path}/a\\nb.mp4", f"{tmp_path}/tab\\tc.mp4", f"{tmp_path}/back\\slash.mp4"])


def test_json_lines(tiny: Path, two_clips: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert transcribe([*map(str, two_clips), "--model", str(tiny), "--format", "json", "--decoder", "lexicon"]) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["path"] for r in records] == [str(p) for p in two_clips]
    for r in records:
        fields = {"path", "text", "confidence", "words", "backend", "model", "decoder", "warnings"}
        assert set(r) == fields | {"domain_score", "in_domain"}
        assert r["backend"] == "onnx" and r["model"] == str(tiny) and r["decoder"] == "lexicon"
        assert r["warnings"] == []
        assert " ".join(w["word"] for w in r["words"]) == r["text"]
        assert all(0 <= w["start"] < w["end"] <= 3.0 for w in r["words"])


def test_srt_and_vtt_files(
    tiny: Path, two_clips: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "subs"
    args = [*map(str, two_clips), "--model", str(tiny), "--decoder", "grammar", "--output-dir", str(out_dir)]
    assert transcribe([*args, "--format", "srt"]) == 0
    assert transcribe([*args, "--format", "vtt"]) == 0
    printed = capsys.readouterr().out.split()
    expected = [out_dir / f"{p.stem}.{fmt}" for fmt in ("srt", "vtt") for p in two_clips]
    assert printed == [str(p) for p in expected]
    srt = expected[0].read_text(encoding="utf-8").strip().split("\n\n")
    assert len(srt) == 6  # one cue per word of a GRID sentence
    for i, cue in enumerate(srt, 1):
        number, timing, _word = cue.split("\n")
        assert number == str(i) and re.fullmatch(SRT_TIME, timing)
    vtt = expected[2].read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n")
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n\w+ <\d\d:\d\d:\d\d\.\d{3}>\w+", vtt)


def test_subtitles_default_to_the_current_folder_and_never_overwrite(
    tiny: Path,
    grid_clip: Path,
    mpg_clip: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert transcribe([str(grid_clip), str(mpg_clip), "--model", str(tiny), "--format", "srt"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "bbaf2n.srt"), str(tmp_path / "bbaf2n-2.srt")]


def test_a_subtitle_file_that_cannot_be_written_is_reported_and_the_others_are_written(
    tiny: Path, two_clips: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "subs"
    (out_dir / "bbaf2n.srt").mkdir(parents=True)  # a folder where the first clip's subtitles would go
    args = [*map(str, two_clips), "--model", str(tiny), "--output-dir", str(out_dir), "--format", "srt"]
    assert transcribe(args) == 1
    out, err = capsys.readouterr()
    assert out.split() == [str(out_dir / "lrae3s.srt")] and (out_dir / "lrae3s.srt").is_file()
    assert (
        err.startswith(f"lipread: error: {out_dir / 'bbaf2n.srt'}: cannot write subtitles: ") and err.count("\n") == 1
    )


def test_subtitles_stop_when_the_disk_is_full(
    tiny: Path,
    two_clips: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import lipread.transcription.subtitles as subtitles

    written: list[Path] = []

    def full(words: object, path: Path, fmt: str) -> Path:
        written.append(path)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(subtitles, "write_subtitles", full)
    args = [*map(str, two_clips), "--model", str(tiny), "--output-dir", str(tmp_path), "--format", "vtt"]
    assert transcribe(args) == 1
    assert written == [tmp_path / "bbaf2n.vtt"]  # the second is not tried
    assert capsys.readouterr().err.endswith("bbaf2n.vtt: cannot write subtitles: No space left on device\n")


def test_folder_with_broken_files(
    tiny: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "videos"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(grid_clip, folder / "nested" / "good.mp4")
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.mp4").write_text("this is not a video\n")
    (folder / "readme.txt").write_text("ignored: not a video extension\n")
    assert transcribe([str(folder), "--model", str(tiny), "--format", "json"]) == 1
    captured = capsys.readouterr()
    records = [json.loads(line) for line in captured.out.strip().splitlines()]
    assert [r["path"] for r in records] == [str(folder / "nested" / "good.mp4")]
    err = captured.err
    assert str(folder / "empty.mp4") in err and "empty" in err
    assert str(folder / "notes.mp4") in err and "cannot decode" in err
    assert "readme.txt" not in err


def test_missing_input_and_empty_folder(
    tiny: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    missing = tmp_path / "missing.mp4"
    assert transcribe([str(grid_clip), str(missing), str(tmp_path / "empty"), "--model", str(tiny)]) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith(f"{grid_clip}\t")
    assert f"{missing}: video file not found" in captured.err
    assert "no videos found" in captured.err


def test_missing_model_is_an_error(grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert transcribe([str(grid_clip), "--model", str(tmp_path / "none.onnx")]) == 1
    assert "none.onnx" in capsys.readouterr().err


@pytest.fixture(scope="module")
def small_grid(grid_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRID folder in the shared layout with four clips (one of 74 frames)."""
    root = tmp_path_factory.mktemp("grid")
    (root / "s1").mkdir()
    (root / "alignments" / "s1").mkdir(parents=True)
    for name in ("bbaf2n", "bbaf3s", "lrae3s", "sbbbzp"):
        (root / "s1" / f"{name}.mp4").symlink_to(grid_root / "s1" / f"{name}.mp4")
        shutil.copy(grid_root / "alignments" / "s1" / f"{name}.align", root / "alignments" / "s1")
    return root


def test_eval_prints_metrics(tiny: Path, small_grid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", str(small_grid), "--model", str(tiny), "--split", "all", "--decoder", "grammar"]
    assert run_command(eval_command, argv) == 0
    out = capsys.readouterr().out
    assert "split all: 4 clips" in out
    for label in ("CER: ", "WER: ", "sentence accuracy: "):
        assert re.search(rf"^{label}\d+\.\d\d%$", out, re.M), label
    assert re.search(r"word boundaries: median error [\d.]+ ms at starts, [\d.]+ ms at ends \(4 clips", out)
    assert re.search(r"^word errors by slot: command [\d.]+%, colour [\d.]+%, .*, adverb [\d.]+%$", out, re.M)


def test_eval_errors_by_slot(tiny: Path, small_grid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With the grammar decoder every transcript is a GRID sentence, so a slot's error rate is the share of
    clips whose word in that slot differs from the reference's."""
    argv = ["eval", str(small_grid), "--model", str(tiny), "--split", "all", "--decoder", "grammar", "--json"]
    assert run_command(eval_command, argv) == 0
    rates = json.loads(capsys.readouterr().out)["slot_error_rates"]
    assert list(rates) == list(grid.SLOT_NAMES)
    clips = sorted((small_grid / "s1").glob("*.mp4"))
    texts = [t.text.split() for t in lipread.transcribe(clips, model=tiny, decoder="grammar")]
    refs = [grid.sentence_from_name(c.stem).split() for c in clips]
    expected = [sum(r[i] != h[i] for r, h in zip(refs, texts)) / len(clips) for i in range(6)]
    assert list(rates.values()) == pytest.approx(expected)
    assert 0 < sum(expected) < 6  # the tiny model gets some words right and some wrong


def test_eval_json_and_max_clips(tiny: Path, small_grid: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["eval", str(small_grid), "--model", str(tiny), "--split", "all", "--max-clips", "2", "--json"]
    assert run_command(eval_command, argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 2 and result["failed"] == 0 and result["decoder"] == "beam"
    assert result["cer"] >= 0.0 and result["wer"] >= 0.0 and 0.0 <= result["sentence_accuracy"] <= 1.0


def test_eval_and_json_use_and_name_the_models_decoder(
    small_grid: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    named = write_tiny_model(tmp_path / "grammar.onnx", config=lipread.config.LIPNET.with_(decoder="grammar"))
    argv = ["eval", str(small_grid), "--model", str(named), "--split", "all", "--json"]
    assert run_command(eval_command, argv) == 0
    assert json.loads(capsys.readouterr().out)["decoder"] == "grammar"
    assert run_command(eval_command, [*argv, "--decoder", "beam"]) == 0
    assert json.loads(capsys.readouterr().out)["decoder"] == "beam"
    assert transcribe([str(grid_clip), "--model", str(named), "--format", "json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["decoder"] == "grammar" and is_grid_sentence(line["text"])


def test_eval_validation_split_needs_enough_clips(
    tiny: Path, small_grid: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_command(eval_command, ["eval", str(small_grid), "--model", str(tiny)]) == 1
    assert "split" in capsys.readouterr().err


def test_boundary_errors_pair_words_by_position() -> None:
    ref = [AlignedWord("bin", 0.95, 1.18), AlignedWord("blue", 1.18, 1.36)]
    pred = [AlignedWord("bin", 1.0, 1.2), AlignedWord("blue", 1.2, 1.28)]
    starts, ends = eval_command.boundary_errors(pred, ref)
    assert starts == pytest.approx([0.05, 0.02]) and ends == pytest.approx([0.02, 0.08])
    assert eval_command.boundary_errors(pred[:1], ref) == ([], [])


def test_lexicon_file(tiny: Path, grid_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    words = tmp_path / "words.txt"
    words.write_text("bin\nblue\nred\n", encoding="utf-8")
    assert transcribe([str(grid_clip), "--model", str(tiny), "--decoder", "lexicon", "--lexicon", str(words)]) == 0
    out = capsys.readouterr().out.split()
    assert out and set(out) <= {"bin", "blue", "red"}
    assert transcribe([str(grid_clip), "--model", str(tiny), "--decoder", "lexicon", "--lexicon", str(tmp_path)]) == 1
    assert "word list" in capsys.readouterr().err


def test_eval_of_clips_none_of_which_can_be_read_says_so(
    tiny: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "mine.csv"
    for n in (1, 2):
        for i in range(n):
            (tmp_path / f"broken{i}.mp4").write_text("not a video\n")
        rows = "".join(f"broken{i}.mp4,bin blue\n" for i in range(n))
        manifest.write_text(f"video,text\n{rows}", encoding="utf-8")
        argv = ["eval", str(manifest), "--model", str(tiny), "--split", "all"]
        assert run_command(eval_command, argv) == 1
        told = "its one clip could not be read" if n == 1 else "none of its 2 clips could be read"
        assert capsys.readouterr().err.endswith(f"lipread: error: {manifest}: {told}\n")
