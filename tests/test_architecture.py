"""The import rules of docs/architecture.md, checked on the source (every module parsed with ``ast``, nothing
imported): the core imports no framework, the optional engines only lazily, each part of ``lipread`` only
parts below it, and the two backend packages never each other."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FRAMEWORKS = ("torch", "tensorflow", "keras", "jax", "tf2onnx")
"""Never imported by the core ``lipread``, not even inside a function: only the backend packages use them."""
BACKEND_PACKAGES = ("lipread_torch", "lipread_tf")
"""Reached by the core only through the backend registry (entry points), or inside a function."""
LAZY = ("numba", "onnx", "onnxruntime", "cv2", "tqdm", "safetensors")
"""Optional or slow to import: the core imports them only inside the functions that use them, so that
``import lipread`` stays fast and works without the optional ones."""
ENGINES = {"lipread.onnx.runtime": "onnxruntime", "lipread.decoding.beam_numba": "numba"}
"""The two modules that are their engine's binding and import it at once; nothing imports them at module level
(the registry loads the first through the ``lipread.backends`` entry point, the beam search the second)."""

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors",),
    ("vocab", "fixed16", "report", "progress"),
    ("config",),
    ("models", "model_input", "weights"),
    ("video",),
    ("data",),
    ("decoding", "backend"),
    ("onnx",),
    ("live",),
    ("transcription",),
    ("api",),
    ("__init__",),
    ("cli",),
    ("__main__",),
)
"""The parts of ``lipread`` (a top-level module, or a folder with everything in it), lowest first. A part may
import the parts of lower rows and itself, never one of its own row or above (``__init__`` is the package
itself: ``import lipread`` and ``from lipread import ...``). docs/architecture.md says why each is where it is."""
RANK = {part: rank for rank, row in enumerate(LAYERS, 1) for part in row}

MAX_LINES = 500
"""The most lines a module of ``lipread`` has."""


@dataclass(frozen=True)
class Import:
    module: str
    """The importing module (dotted)."""
    target: str
    """The imported module, absolute (``from x import y`` gives ``x.y`` when ``y`` is a module, else ``x``)."""
    line: int
    in_function: bool
    type_only: bool
    """Under ``if TYPE_CHECKING:`` (never executed)."""

    def __str__(self) -> str:
        return f"{self.module.replace('.', '/')}.py:{self.line}: imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _exists(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[Import]:
    """Every import statement of one source file, resolved to absolute module names."""
    module = _module_name(path)
    package = module if _is_package(path) else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                visit(child, True, type_only)
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    visit_stmt(stmt, in_function, True)
                for stmt in child.orelse:
                    visit_stmt(stmt, in_function, type_only)
            else:
                visit_stmt(child, in_function, type_only)

    def visit_stmt(stmt: ast.AST, in_function: bool, type_only: bool) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                found.append(Import(module, alias.name, stmt.lineno, in_function, type_only))
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                base = package.split(".")
                base = base[: len(base) - (stmt.level - 1)]
                source = ".".join(base + ([stmt.module] if stmt.module else []))
            else:
                source = stmt.module or ""
            for alias in stmt.names:
                sub = f"{source}.{alias.name}"
                target = sub if source.startswith("lipread") and _exists(sub) else source
                found.append(Import(module, target, stmt.lineno, in_function, type_only))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            visit(stmt, True, type_only)
        else:
            visit(stmt, in_function, type_only)

    visit(ast.parse(path.read_text(encoding="utf-8")), False, False)
    return found


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def part(dotted: str) -> str:
    """The part of ``lipread`` a module belongs to: ``lipread.video.mouth`` -> ``video``, ``lipread`` ->
    ``__init__``."""
    pieces = dotted.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def top(dotted: str) -> str:
    return dotted.split(".")[0]


CORE = [i for p in sources("lipread") for i in imports_of(p)]


def test_every_part_has_a_place() -> None:
    """A new top-level module or folder of ``lipread`` must be given a row of LAYERS (and a paragraph in
    docs/architecture.md)."""
    parts = {part(_module_name(p)) for p in sources("lipread")}
    assert sorted(parts - set(RANK)) == []


def test_no_module_is_too_long() -> None:
    """A module that outgrows this is split along its concerns (as ``ctc.py`` became ``lipread/decoding/``)."""
    lines = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines()) for p in sources("lipread")}
    assert {path: n for path, n in lines.items() if n > MAX_LINES} == {}


def test_the_core_never_imports_a_framework() -> None:
    bad = [str(i) for i in CORE if top(i.target) in FRAMEWORKS]
    assert bad == []


def test_the_core_imports_backend_packages_and_engines_only_lazily() -> None:
    bad = []
    for i in CORE:
        if i.in_function or i.type_only:
            continue
        if top(i.target) in BACKEND_PACKAGES:
            bad.append(f"{i} at module level (a backend package: only through the registry or in a function)")
        elif top(i.target) in LAZY and ENGINES.get(i.module) != top(i.target):
            bad.append(f"{i} at module level (import it inside the function that needs it)")
        elif i.target in ENGINES and i.module != i.target:
            bad.append(f"{i} at module level (it imports {ENGINES[i.target]} at once)")
    assert bad == []


def test_each_part_imports_only_parts_below_it() -> None:
    """Every import counts, also those inside functions and under ``TYPE_CHECKING``: a lazy import upward is
    still a dependency upward."""
    bad = []
    for i in CORE:
        if top(i.target) != "lipread":
            continue
        src, dst = part(i.module), part(i.target)
        if src != dst and RANK[dst] >= RANK[src]:
            bad.append(f"{i}: {src} (row {RANK[src]}) may not import {dst} (row {RANK[dst]})")
    assert bad == []


@pytest.mark.parametrize("package, other", [("lipread_torch", "lipread_tf"), ("lipread_tf", "lipread_torch")])
def test_backend_packages_never_import_each_other(package: str, other: str) -> None:
    """They meet only through the canonical checkpoint (:mod:`lipread.weights`)."""
    bad = [str(i) for p in sources(package) for i in imports_of(p) if top(i.target) == other]
    assert bad == []


def test_the_rules_see_the_imports() -> None:
    """The checks above would pass on nothing: make sure they see what is there."""
    seen = {(i.module, i.target) for i in CORE}
    assert ("lipread.decoding.beam", "lipread.decoding.beam_numba") in seen  # inside a function
    assert ("lipread.onnx.runtime", "onnxruntime") in seen  # module level, the engine's own module
    assert ("lipread.cli.import_", "lipread_tf.notebook") in seen  # inside a function
    assert ("lipread.backend", "lipread.data.training") in seen  # under TYPE_CHECKING
    assert ("lipread.cli.app", "lipread") in seen  # from .. import __version__
    assert any(i.in_function for i in CORE) and any(i.type_only for i in CORE)
