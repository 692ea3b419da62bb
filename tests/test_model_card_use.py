"""The shipped model's intended use, out-of-scope use and misuse ship beside its card, and the site shows them."""

from __future__ import annotations

from pathlib import Path

from script_module import load_script

from lipread.models import DEFAULT_MODEL, SHIPPED

ROOT = Path(__file__).resolve().parents[1]
USE = SHIPPED[DEFAULT_MODEL].path("card").with_name(f"{DEFAULT_MODEL}-use.md")


def test_use_file_has_the_three_sections() -> None:
    text = USE.read_text(encoding="utf-8")
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Intended use", "## Out-of-scope use", "## Misuse: privacy and surveillance"]
    assert "consent" in text and "surveillance" in text


def test_the_model_card_page_includes_card_and_use_once() -> None:
    page = (ROOT / "docs" / "model-card.md").read_text(encoding="utf-8")
    assert page.startswith(f'--8<-- "lipread/models/{DEFAULT_MODEL}.md"\n')  # the card's title is the page's
    assert page.count(f'--8<-- "lipread/models/{DEFAULT_MODEL}-use.md"') == 1
    card = SHIPPED[DEFAULT_MODEL].path("card").read_text(encoding="utf-8")
    assert "## Intended use" not in card  # else the page would show it twice


def _results() -> dict[str, object]:
    """What the card generator reads of a build, made up: one decoder, files of 2.5 MB."""
    e = {"cer": 0.1, "wer": 0.2, "sentence_accuracy": 0.3, "median_start_error_ms": None, "clips": 2}
    parity = {"log_prob": 1e-4, "prob": 1e-5}
    return {
        "eval": {"greedy": e},
        "eval_int8": {"greedy": e},
        "parity": {"checkpoint": parity, "onnx": parity, "int8": parity},
        "calibration_clips": 32,
        "fixed16": [],
        "trained_on": {},
        "epochs": 1,
        "selected_epoch": 1,
        "sizes_mb": {"m.onnx": 1.0, "m.safetensors": 1.0, "m.int8.onnx": 0.5},
        "total_mb": 2.5,
    }


def test_the_card_generator_points_to_the_use_file() -> None:
    tool = load_script(ROOT / "tools" / "build_default_model.py")
    results = _results()
    assert "`m-use.md` beside this card" in tool.card("m", "lipnet", results, [], 9, use_file=True)
    assert "-use.md" not in tool.card("m", "lipnet", results, [], 9)


def test_the_card_says_one_command_runs_a_recipe_with_a_warm_restart() -> None:
    tool = load_script(ROOT / "tools" / "build_default_model.py")
    results = _results()
    scratch, restart = "lipread train grid -o a", "lipread train grid -o b --init a/best.safetensors"
    sentence = "runs the last from-scratch schedule and the `--init` command after it in one command"
    card = " ".join(tool.card("m", "lipnet", results, [scratch, restart], 9).split())
    assert sentence in card
    for commands in ([scratch], [restart], [scratch, "python tools/build_default_model.py b --init x"]):
        assert sentence not in tool.card("m", "lipnet", results, commands, 9)
