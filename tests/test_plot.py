"""``lipread plot`` (training curves), ``lipread eval --confusion`` and the word-slot confusion counts."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lipread.cli.app import main
from lipread.cli.plot import draw_letter_confusion, read_history, series
from lipread.data.confusion import MISSING, aligned_words, confusion_matrix, slot_counts, slot_pairs
from lipread.data.metrics import missed_words
from lipread.errors import BackendError, DataError

ROOT = Path(__file__).resolve().parents[1]


def _epoch(n: int, wer: float) -> dict[str, object]:
    metrics = {"greedy_cer": wer / 3, "greedy_wer": wer, "beam_cer": wer / 4, "beam_wer": wer * 0.9}
    return {"epoch": n, "lr": 5e-4, "train_loss": 40.0 / n, "val_loss": 50.0 / n, "metrics": metrics}


def _run(tmp_path: Path, epochs: list[dict[str, object]]) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text("".join(json.dumps(e) + "\n" for e in epochs), encoding="utf-8")
    return run


def _png_size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, f"{path} is not an image"
    return image.shape[1], image.shape[0]


# --- reading a history ------------------------------------------------------------------------------------


def test_series_takes_every_error_rate_and_leaves_gaps(tmp_path: Path) -> None:
    epochs = [_epoch(1, 0.9), _epoch(2, 0.5), {"epoch": 3, "train_loss": 10.0, "metrics": {}}]
    s = series(read_history(_run(tmp_path, epochs)))
    assert s["epoch"] == [1, 2, 3]
    assert list(s) == ["epoch", "train_loss", "val_loss", "greedy_cer", "greedy_wer", "beam_cer", "beam_wer"]
    assert s["greedy_wer"][:2] == [0.9, 0.5] and math.isnan(s["greedy_wer"][2])
    assert s["train_loss"] == [40.0, 20.0, 10.0] and math.isnan(s["val_loss"][2])


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", "no epochs"),
        ('{"epoch": 1}\nnot json\n', ":2: not JSON"),
        ('{"epoch": 1}\n[1, 2]\n', ":2: expected a JSON object"),
        ('{"lr": 1}\n', ":1: expected a JSON object with an 'epoch' from 0 to 1,000,000"),
        ('{"epoch": 1e308}\n', ":1: expected a JSON object with an 'epoch' from 0"),
        ('{"epoch": -1}\n', ":1: expected a JSON object with an 'epoch' from 0"),
        ('{"epoch": 1' + "0" * 400 + "}\n", ":1: expected a JSON object with an 'epoch' from 0"),
        ('{"epoch": true}\n', ":1: expected a JSON object with an 'epoch'"),
        ('{"epoch": 1, "metrics": "bad"}\n', ":1: 'metrics' must be a JSON object of names and numbers"),
        ('{"epoch": 1, "metrics": [1, 2]}\n', ":1: 'metrics' must be a JSON object"),
    ],
)
def test_a_bad_history_names_the_file_and_line(tmp_path: Path, text: str, error: str) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=error) as e:
        read_history(path)
    assert str(path) in str(e.value)


def test_a_folder_without_history_says_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"history\.jsonl: no such file"):
        read_history(tmp_path)


@settings(deadline=None)  # the machine may be busy: a slow example is not a failure
@given(
    st.lists(
        st.fixed_dictionaries(
            {"epoch": st.integers(1, 1000), "train_loss": st.floats(0, 1e3), "val_loss": st.floats(0, 1e3)},
            optional={"metrics": st.dictionaries(st.sampled_from(["greedy_wer", "beam_cer", "x"]), st.floats(0, 1))},
        ),
        min_size=1,
        max_size=20,
    )
)
def test_read_history_gives_back_what_was_written(epochs: list[dict[str, object]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "history.jsonl"
        path.write_text("\n\n".join(json.dumps(e) for e in epochs), encoding="utf-8")  # blank lines are skipped
        assert read_history(path) == epochs
        s = series(epochs)
        assert len(s["epoch"]) == len(epochs) and "x" not in s


# --- confusion counts -------------------------------------------------------------------------------------


def test_aligned_words_follow_the_optimal_alignment() -> None:
    ref = ["bin", "blue", "at", "f", "two", "now"]
    assert aligned_words(ref, ref) == ref
    assert aligned_words(ref, ["bin", "blue", "f", "two", "now"]) == ["bin", "blue", None, "f", "two", "now"]
    assert (
        aligned_words(ref, ["bin", "blue", "at", "at", "s", "two", "now"])[3] == "s"
    )  # an insertion does not shift the slot
    assert aligned_words(ref, []) == [None] * 6


words = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=7)


@settings(deadline=None)
@given(words, words)
def test_aligned_words_agree_with_the_error_rates(reference: list[str], hypothesis: list[str]) -> None:
    """A reference word is missed exactly where its aligned word differs (the same alignment as the WER's)."""
    missed, _ = missed_words(reference, hypothesis)
    paired = aligned_words(reference, hypothesis)
    assert [p != r for p, r in zip(paired, reference)] == missed
    assert len([p for p in paired if p is not None]) <= len(hypothesis)


def test_slot_pairs_and_matrix() -> None:
    refs = ["bin blue at f two now", "lay red by b one soon", "set white in m six again", "bin red at z"]
    hyps = ["bin blue at f two now", "lay red by p one soon", "set white in six again", "bin red at z"]
    pairs = slot_pairs(refs, hyps, 3)
    assert pairs == [("f", "f"), ("b", "p"), ("m", MISSING), ("z", "z")]
    rows, columns, counts = confusion_matrix([*pairs, ("b", "blue")], ["b", "f", "m", "p", "z"])
    assert rows == ["b", "f", "m", "p", "z"] and columns == [*rows, "other", MISSING]
    assert counts[0] == [0, 0, 0, 1, 0, 1, 0]  # b read as p once, as a non-letter once
    assert counts[2][columns.index(MISSING)] == 1 and counts[1][1] == counts[4][4] == 1
    assert slot_counts(pairs) == {"b": {"p": 1}, "f": {"f": 1}, "m": {MISSING: 1}, "z": {"z": 1}}
    assert confusion_matrix([("f", "f")], ["f"])[1] == ["f"]  # no extra columns when none is needed


# --- drawing ----------------------------------------------------------------------------------------------


def test_plot_command_draws_the_curves(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    run = _run(tmp_path, [_epoch(n, 1 / n) for n in range(1, 6)])
    assert main(["plot", str(run)]) == 0
    assert capsys.readouterr().out.strip() == str(run / "curves.png")
    assert _png_size(run / "curves.png") == (1000, 400)
    out = tmp_path / "c.svg"
    assert main(["plot", str(run / "history.jsonl"), "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_plot_command_reports_a_bad_run_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plot", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("lipread: error: ") and "history.jsonl: no such file" in err and "\n" not in err


def test_plot_reports_an_unknown_image_format(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    run = _run(tmp_path, [_epoch(1, 1.0)])
    assert main(["plot", str(run), "-o", str(tmp_path / "c.nope")]) == 1
    assert "c.nope: cannot write this image" in capsys.readouterr().err


def test_plot_checks_where_the_image_goes_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    run = _run(tmp_path, [_epoch(1, 1.0)])
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder.png").mkdir()
    for out, reason in [
        (tmp_path / "a-file" / "c.png", f"{tmp_path / 'a-file'} is a file, not a folder"),
        (tmp_path / "missing" / "c.png", f"the folder {tmp_path / 'missing'} does not exist"),
        (tmp_path / "c.txt", "the name must end in one of "),
        (tmp_path / "a-folder.png", "it is a folder"),
    ]:
        assert main(["plot", str(run), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"lipread: error: {out}: cannot write this image: {reason}") and err.count("\n") == 1


def test_eval_checks_its_confusion_image_before_reading_clips(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    from lipread.cli import eval as eval_command

    def no_evaluation(*args: object, **kwargs: object) -> None:
        raise AssertionError("the clips were read before the image path was checked")

    monkeypatch.setattr(eval_command, "evaluate", no_evaluation)
    out = tmp_path / "confusion.txt"
    assert main(["eval", str(tmp_path), "--confusion", str(out)]) == 1
    assert capsys.readouterr().err.startswith(f"lipread: error: {out}: cannot write this image: the name must end in")


def test_without_matplotlib_the_error_says_which_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(BackendError, match=r'pip install "lipread\[plot\]"'):
        draw_letter_confusion({"b": {"p": 1}}, tmp_path / "c.png")
    assert main(["plot", str(_run(tmp_path, [_epoch(1, 1.0)]))]) == 1
    assert 'pip install "lipread[plot]"' in capsys.readouterr().err


def test_confusion_image(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    out = tmp_path / "letters.png"
    draw_letter_confusion({"b": {"p": 2, "b": 1}, "f": {"f": 3}}, out)
    width, height = _png_size(out)
    assert (width, height) == (750, 700)
    with pytest.raises(DataError, match="no GRID sentences"):
        draw_letter_confusion({}, out)


def test_eval_draws_the_letter_confusion(grid_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    out = tmp_path / "letters.png"
    assert main(["eval", str(grid_root), "--max-clips", "4", "--json", "--confusion", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert sum(sum(row.values()) for row in result["letter_confusion"].values()) == 4
    assert _png_size(out) == (750, 700)


def test_plotting_is_imported_only_by_the_commands_that_draw() -> None:
    code = (
        "import sys, lipread, lipread.cli.app, lipread.cli.plot, lipread.cli.eval\n"
        "lipread.cli.app.build_parser()\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'matplotlib'], 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_an_image_is_written_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A disk that fills while the image is written leaves the earlier image as it was, and one error line."""
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    import errno

    from lipread.cli import plot as plot_command

    run = _run(tmp_path, [_epoch(n, 1 / n) for n in range(1, 4)])
    out = tmp_path / "c.pdf"
    out.write_bytes(b"the earlier image")

    def full(path: object, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(plot_command, "atomic_write", full)
    assert main(["plot", str(run), "-o", str(out)]) == 1
    assert capsys.readouterr().err == f"lipread: error: {out}: cannot write the image: No space left on device\n"
    assert out.read_bytes() == b"the earlier image"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pdf", "run"]


def test_a_run_folder_named_in_bytes_that_are_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    import os

    run = _run(tmp_path, [_epoch(1, 1.0)])
    odd = run.rename(os.fsdecode(bytes(run) + b"\xff"))
    assert main(["plot", str(odd), "-o", str(tmp_path / "c.png")]) == 0
    assert _png_size(tmp_path / "c.png") == (1000, 400)
