"""The test matrix. ``python3 -m nox`` runs the default sessions: ``lint``, ``docs``, ``tests`` once per backend
(``core`` with no framework installed, ``torch``, ``tensorflow``, ``onnx``), ``parity`` (every backend,
cross-backend comparisons) and ``fast`` (the decoding tests again, with the ``fast`` extra's compiled beam
search). Each session installs lipread and what it needs into a fresh virtual environment, every package,
direct or transitive, at the version ``constraints.txt`` pins; tests needing an absent framework skip themselves
(``pytest.importorskip``).

Not default: ``latest`` (the tests against the newest release of everything, to see drift early), ``lock``
(regenerates ``constraints.txt``) and ``bench`` (the benchmarks)."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "tests", "parity", "fast", "docs"]
nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = False

CONSTRAINTS = ("-c", "constraints.txt")
PINNED = {"LIPREAD_PINNED": "constraints.txt"}
"""Tells ``tests/test_pins.py`` which pins the session's environment must match."""
"""The test matrix's pins: every package any default session installs, from ``python3 -m nox -s lock``."""
TORCH_PIN = "torch==2.13.0"
"""The CPU build of PyTorch that lies on the CI machines' disk; any other version pulls CUDA packages."""
TEST_DEPS = ("pytest>=8", "hypothesis>=6.100")
PYTEST = ("pytest", "-p", "no:cacheprovider", "--durations=10")
FRAMEWORKS = ("torch", "tensorflow", "onnxruntime", "keras", "jax", "numba")

# What each backend's test session installs besides the test tools. TensorFlow comes as tensorflow-cpu.
BACKENDS = {
    "core": (".",),
    "torch": (".[torch]",),
    "tensorflow": (".", "tensorflow-cpu>=2.16", "tf2onnx>=1.16", "onnx>=1.15", "onnxruntime>=1.17"),
    "onnx": (".[onnx,plot,dask]", "onnx>=1.15"),
}

# Fails when any module named on its command line is installed.
NOT_INSTALLED = (
    "import importlib.util as u, sys; found = [m for m in sys.argv[1:] if u.find_spec(m)]; "
    "sys.exit(f'installed, but must not be: {found}' if found else None)"
)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff on everything, mypy on the core package."""
    session.install(*CONSTRAINTS, ".", "ruff>=0.5", "mypy>=1.10")
    session.run("ruff", "check", ".")
    session.run("mypy", "lipread")


@nox.session
@nox.parametrize("backend", list(BACKENDS))
def tests(session: nox.Session, backend: str) -> None:
    """Every test but the parity ones, with one backend's framework installed (none for ``core``)."""
    session.install(*CONSTRAINTS, *BACKENDS[backend], *TEST_DEPS)
    if backend == "core":
        session.run("python", "-c", NOT_INSTALLED, *FRAMEWORKS)
    session.run(*PYTEST, "-m", "not parity", *session.posargs, env=PINNED)


@nox.session
def parity(session: nox.Session) -> None:
    """The cross-backend comparisons, with PyTorch, TensorFlow and ONNX Runtime all installed."""
    session.install(*CONSTRAINTS, ".[torch,onnx]", *BACKENDS["tensorflow"][1:], *TEST_DEPS)
    session.run(*PYTEST, "-m", "parity", *session.posargs)
    session.run(*PYTEST, "tests/test_pins.py", env=PINNED)


@nox.session
def fast(session: nox.Session) -> None:
    """The decoding tests with numba installed (``lipread[fast]``): the plain beam search runs compiled
    (``lipread.decoding.beam_numba``), and ``tests/test_ctc_numba.py`` compares it with the NumPy search."""
    session.install(*CONSTRAINTS, ".[fast]", *TEST_DEPS)
    decoding = ("tests/test_ctc.py", "tests/test_ctc_numba.py", "tests/test_decoding.py", "tests/test_pins.py")
    session.run(*PYTEST, *decoding, *session.posargs, env=PINNED)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site (``mkdocs.yml``), built with ``--strict``: no broken link or reference.

    The API pages are generated from the source without importing the frameworks, so none is installed.
    """
    session.install(*CONSTRAINTS, ".[docs]")
    session.run("mkdocs", "build", "--strict")


@nox.session(default=False)
def latest(session: nox.Session) -> None:
    """Every test with the newest release of every dependency (PyTorch excepted), ignoring the pins.

    Not part of the default matrix: a failure here is drift in something lipread depends on, to fix (and
    then re-lock) before it reaches the pins.
    """
    newest = (TORCH_PIN, ".[torch,onnx,fast]", *BACKENDS["tensorflow"][1:], *TEST_DEPS)
    session.install("--upgrade", "--upgrade-strategy", "eager", *newest)
    session.run("python", "-m", "pip", "list", "--format=freeze")
    session.run(*PYTEST, *session.posargs)


@nox.session(default=False)
def lock(session: nox.Session) -> None:
    """Regenerate ``constraints.txt`` (pip-tools' ``pip-compile``): the newest versions that satisfy
    ``pyproject.toml``'s extras and ``constraints.in`` together, for the Python running this session."""
    session.install("pip-tools>=7.4")
    session.run(
        "pip-compile",
        "--quiet",
        "--strip-extras",
        "--allow-unsafe",
        "--no-emit-index-url",
        "--no-emit-find-links",
        *(f"--extra={extra}" for extra in ("dask", "dev", "docs", "fast", "onnx", "plot", "torch")),
        "--output-file=constraints.txt",
        "pyproject.toml",
        "constraints.in",
    )


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """The benchmarks in ``benchmarks/`` (not a default session): writes ``benchmarks/RESULTS.md``.

    pyctcdecode, one of the decoders compared, pins ``numpy < 2``; it gets its own environment,
    ``benchmarks/.venv-pyctcdecode``. Arguments after ``--`` go to ``benchmarks/run_all.py``.
    """
    session.install(*CONSTRAINTS, ".[torch,onnx,fast]", *BACKENDS["tensorflow"][1:])
    session.run("python", "benchmarks/run_all.py", "--setup-pyctcdecode", *session.posargs)
