"""``import lipread`` stays light: no deep-learning framework is imported by the core or the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FRAMEWORKS = (
    "torch",
    "tensorflow",
    "onnxruntime",
    "keras",
    "lipread_torch",
    "lipread_tf",
    "jax",
    "onnx",
    "tf2onnx",
    "numba",
)
ROOT = Path(__file__).resolve().parents[1]


def _modules_after(code: str) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.splitlines()[-1])


def test_import_lipread_imports_no_framework() -> None:
    modules = _modules_after("import lipread\nimport lipread.cli")
    assert "lipread" in modules and "lipread.cli" in modules
    loaded = [m for m in modules if m.split(".")[0] in FRAMEWORKS]
    assert loaded == []
    assert "cv2" not in modules  # OpenCV is imported when a video is first decoded


def test_the_command_reaches_its_interrupt_handler_before_numpy() -> None:
    """``lipread``'s entry point (``lipread.cli.app:main``) catches Ctrl-C; until it runs, an interrupt is
    Python's traceback. NumPy (most of ``import lipread``'s time) is imported inside it, not before."""
    modules = _modules_after("import lipread.cli.app")
    assert "lipread.cli.app" in modules
    assert "numpy" not in modules


def test_no_core_module_imports_a_framework() -> None:
    """Every module of the core and the CLI, except the ONNX Runtime backend itself (``lipread.onnx.runtime``) and
    the compiled beam search of the ``fast`` extra (``lipread.decoding.beam_numba``, imported only where numba is
    installed)."""
    code = (
        "import importlib, pkgutil, lipread\n"
        "for m in pkgutil.walk_packages(lipread.__path__, 'lipread.'):\n"
        "    if not m.name.startswith(('lipread.onnx.runtime', 'lipread.__main__', 'lipread.decoding.beam_numba')):\n"
        "        importlib.import_module(m.name)"
    )
    modules = _modules_after(code)
    assert "lipread.video.preprocess" in modules and "lipread.cli.preview" in modules
    assert [m for m in modules if m.split(".")[0] in FRAMEWORKS] == []
