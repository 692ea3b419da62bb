"""``tools/make_figures.py`` draws the documentation's pictures from the package and the benchmark results."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]


def _tool() -> ModuleType:
    return load_script(ROOT / "tools" / "make_figures.py")


def _size(path: Path) -> tuple[int, int]:
    import cv2

    image = cv2.imread(str(path))
    assert image is not None, path
    return image.shape[1], image.shape[0]


def test_architecture_and_benchmark_figures(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed (pip install '.[plot]')")
    assert _tool().main(["architecture", "benchmarks", "--out", str(tmp_path)]) == 0
    assert _size(tmp_path / "architecture.png")[0] == 850
    assert _size(tmp_path / "benchmarks.png") == (1000, 300)


def test_benchmark_cells_come_from_the_results_table() -> None:
    tool = _tool()
    table = "| case | ms |\n| --- | --- |\n| onnxruntime int8 | 43.7 | 44.9 |\n| other | x |\n"
    assert tool._cell(table, "onnxruntime int8") == 43.7
    assert tool._cell(table, "onnxruntime int8", 2) == 44.9
    with pytest.raises(SystemExit, match="no row 'other'"):
        tool._cell(table, "other")


def test_the_documentation_shows_the_figures() -> None:
    for image, page in (
        ("pipeline.png", "index.md"),
        ("architecture.png", "index.md"),
        ("preview.gif", "quickstart.md"),
        ("benchmarks.png", "benchmarks.md"),
    ):
        assert (ROOT / "docs" / "images" / image).is_file(), f"run python tools/make_figures.py ({image})"
        assert f"(images/{image})" in (ROOT / "docs" / page).read_text(encoding="utf-8"), page
