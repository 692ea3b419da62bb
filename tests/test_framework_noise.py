"""No framework's own log lines or advice reach a lipread user: TensorFlow imports quietly, and a pickle or
a foreign PyTorch file given as a checkpoint is a one-line CheckpointError naming the file."""

from __future__ import annotations

import argparse
import os
import pickle
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from lipread import cli
from lipread.errors import CheckpointError
from lipread_tf._quiet import quiet_import

ROOT = Path(__file__).resolve().parents[1]
TF_CHATTER = ("I0000", "W0000", "E0000", "oneDNN", "absl::InitializeLog", "TF_ENABLE_ONEDNN_OPTS", "cpu_feature_guard")
"""What TensorFlow writes to file descriptor 2 on its own."""
TORCH_ADVICE = ("weights_only", "torch.load", "add_safe_globals", "pytorch.org", "Traceback")
"""Bits of PyTorch's multi-line advice on a refused file, and of a traceback."""


# quiet_import: file descriptor 2 silenced during an import, replayed when the import fails.


def write_module(folder: Path, name: str, body: str) -> str:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return name


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on ``sys.path`` for throw-away modules (forgotten again after the test)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("noisy_"):
            del sys.modules[name]


def test_quiet_import_discards_what_a_successful_import_writes_to_fd_2(
    modules: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    name = write_module(modules, "noisy_ok", "import os\nos.write(2, b'I0000 chatter from C++\\n')\nVALUE = 1\n")
    module = quiet_import(name)
    assert module.VALUE == 1
    print("still here", file=sys.stderr, flush=True)
    os.write(2, b"fd 2 restored\n")
    assert capfd.readouterr().err == "still here\nfd 2 restored\n"
    assert quiet_import(name) is module  # imported once


def test_quiet_import_replays_the_text_when_the_import_fails(modules: Path, capfd: pytest.CaptureFixture[str]) -> None:
    body = "import os\nos.write(2, b'libfoo.so: cannot open shared object file\\n')\nraise ImportError('no libfoo')\n"
    name = write_module(modules, "noisy_broken", body)
    with pytest.raises(ImportError, match="no libfoo"):
        quiet_import(name)
    assert capfd.readouterr().err == "libfoo.so: cannot open shared object file\n"
    os.write(2, b"fd 2 restored\n")
    assert capfd.readouterr().err == "fd 2 restored\n"


@pytest.mark.tensorflow
def test_lipread_tf_imports_tensorflow_quietly() -> None:
    """In a fresh process (TensorFlow prints on its first import only), without TF_CPP_MIN_LOG_LEVEL set:
    importing lipread's TensorFlow backend and running a model writes nothing to stderr."""
    pytest.importorskip("tensorflow")
    script = """
        import sys
        import numpy as np
        from lipread.config import ConvBlock, get_preset
        import lipread_tf
        config = get_preset("lipnet").with_(
            height=25, width=50, rnn_hidden=8, rnn_layers=1,
            frontend=(ConvBlock(4, (3, 5, 5), stride=(1, 2, 2), padding=(1, 2, 2)), ConvBlock(4, (3, 3, 3)),
                      ConvBlock(4, (3, 3, 3))),
        )
        model = lipread_tf.backend.build(config, seed=0)
        print(model.logprobs(np.zeros((1, 6, 25, 50, 3), np.float32)).shape)
        print("stderr works", file=sys.stderr)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "(1, 6, 28)"
    assert done.stderr == "stderr works\n", done.stderr
    assert not any(text in done.stderr for text in TF_CHATTER)


# Pickles and foreign PyTorch files given where lipread expects its own checkpoints.


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Files that are not lipread checkpoints: a plain pickle, a torch zip holding an arbitrary Python
    object (refused by ``weights_only``), a torch zip of plain tensors, an empty file."""
    torch = pytest.importorskip("torch")
    folder = tmp_path_factory.mktemp("foreign")
    files = {name: folder / name for name in ("plain.pkl", "object.pt", "tensors.pt", "empty.ckpt")}
    files["plain.pkl"].write_bytes(pickle.dumps({"model": [1.0, 2.0]}, protocol=4))
    torch.save({"options": argparse.Namespace(lr=1e-4)}, files["object.pt"])
    torch.save({"model": {"w": torch.zeros(2)}}, files["tensors.pt"])
    files["empty.ckpt"].write_bytes(b"")
    return files


def assert_one_clean_line(text: str, path: Path) -> None:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    assert str(path) in lines[0], text
    assert not any(bit in text for bit in TORCH_ADVICE), text


@pytest.mark.torch
@pytest.mark.parametrize("name", ["plain.pkl", "object.pt", "tensors.pt", "empty.ckpt"])
def test_torch_training_checkpoint_refuses_foreign_files_in_one_line(foreign: dict[str, Path], name: str) -> None:
    from lipread_torch.train import load_training_checkpoint

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's own warnings (e.g. about the pickle protocol) must not escape
        with pytest.raises(CheckpointError) as caught:
            load_training_checkpoint(foreign[name])
    assert_one_clean_line(str(caught.value), foreign[name])
    assert "not a lipread training checkpoint" in str(caught.value) or "not a readable" in str(caught.value)


def lipread(*argv: str) -> int:
    return cli.main(list(argv))


@pytest.mark.torch
@pytest.mark.parametrize("name", ["plain.pkl", "object.pt"])
def test_cli_model_and_export_refuse_foreign_files(
    foreign: dict[str, Path], grid_clip: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = foreign[name]
    assert lipread("transcribe", str(grid_clip), "--model", str(path), "--backend", "torch") == 1
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(f"lipread: error: {path}: ")
    assert_one_clean_line(err, path)
    assert lipread("export", str(path), "-o", str(tmp_path / "model.onnx")) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lipread: error: {path}: ")
    assert_one_clean_line(err, path)


@pytest.mark.torch
@pytest.mark.parametrize("name", ["plain.pkl", "object.pt"])
def test_cli_train_init_and_resume_refuse_foreign_files(
    foreign: dict[str, Path], grid_root: Path, tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = foreign[name]
    common = ["--max-clips", "2", "--train-on-validation", "--val-fraction", "1", "--epochs", "1"]
    common += ["--cache", str(tmp_path / "cache"), "--no-progress", "--workers", "1", "--device", "cpu"]
    assert lipread("train", str(grid_root), "-o", str(tmp_path / "init"), "--init", str(path), *common) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lipread: error: {path}: ")
    assert_one_clean_line(err, path)

    run = tmp_path / "resume"
    run.mkdir()
    (run / "last.ckpt").write_bytes(path.read_bytes())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert lipread("train", str(grid_root), "-o", str(run), "--resume", *common) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"lipread: error: {run / 'last.ckpt'}: ")
    assert_one_clean_line(err, run / "last.ckpt")
