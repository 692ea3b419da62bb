"""Distributed training: two CPU processes under ``torchrun`` (gloo) end with identical weights, and only
process 0 writes files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torch.distributed")

from lipread.config import ConvBlock, get_preset  # noqa: E402
from lipread.weights import load_checkpoint  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]

# Run by each process: trains, then records a digest of its final weights and every file it wrote.
WORKER = r"""
import hashlib, json, os, sys
from pathlib import Path
import torch
import lipread_torch.train as T
from lipread.config import ModelConfig
from lipread.data.training import TrainOptions

torch.set_num_threads(1)
rank = int(os.environ["RANK"])
report = Path(sys.argv[2])
written = []
modules = []

class Recorded(T.LipNet):
    def __init__(self, config, conv_dropout=None):
        super().__init__(config, conv_dropout)
        modules.append(self)

def recording(fn):
    def wrapper(path, *args, **kwargs):
        written.append(Path(path).name)
        return fn(path, *args, **kwargs)
    return wrapper

T.LipNet = Recorded
T.atomic_write = recording(T.atomic_write)
T.save_checkpoint = recording(T.save_checkpoint)
options = TrainOptions(**json.loads(sys.argv[1]))
options.config = ModelConfig.loads(options.config)
result = T.train(options)
digest = hashlib.sha256()
for name, tensor in sorted(modules[0].state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().cpu().numpy().tobytes())
report.joinpath(f"rank{rank}.json").write_text(json.dumps(
    {"digest": digest.hexdigest(), "written": written, "history": result.history}
))
"""


def test_two_processes_train_in_step(grid_root: Path, tmp_path: Path) -> None:
    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, b.dropout, b.pool)
        for c, b in zip((4, 6, 5), base.frontend)
    )
    cfg = base.with_(frontend=blocks, rnn_hidden=8)
    out = tmp_path / "run"
    options = dict(
        data=str(grid_root),
        output=str(out),
        cache=str(tmp_path / "cache"),
        config=cfg.dumps(),
        max_clips=5,
        val_fraction=0.2,
        epochs=1,
        batch_size=1,
        workers=1,
        progress=False,
        beam_width=2,
        examples=0,
        device="cpu",
    )
    (tmp_path / "worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        str(tmp_path / "worker.py"),
        json.dumps(options),
        str(tmp_path),
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0 = json.loads((tmp_path / "rank0.json").read_text())
    r1 = json.loads((tmp_path / "rank1.json").read_text())
    assert r0["digest"] == r1["digest"]
    assert r1["written"] == []
    assert {"last.ckpt", "last.safetensors", "history.jsonl"} <= set(r0["written"])
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["best.ckpt", "best.safetensors", "history.jsonl", "last.ckpt", "last.safetensors", "words.txt"]
    )
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and r0["history"] == r1["history"] == history
    # 4 training clips, 2 processes: each trained on 2 (counted once each in the throughput)
    assert load_checkpoint(out / "last.safetensors").metrics["epoch"] == 1
    assert "training on 4 clips" in proc.stdout + proc.stderr


def test_two_processes_train_every_stage_of_the_recipe(grid_root: Path, tiny_config: Path, tmp_path: Path) -> None:
    """``lipread train`` under torchrun with a warm restart and a grey fine-tune: the three runs in one command,
    in the same two processes (a process group is kept for the life of the process, not made again for each
    stage)."""
    out = tmp_path / "run"
    args = ["train", str(grid_root), "-o", str(out), "--model-config", str(tiny_config), "--device", "cpu"]
    args += ["--cache", str(tmp_path / "cache"), "--max-clips", "5", "--val-fraction", "0.2", "--batch-size", "1"]
    args += ["--epochs", "3", "--restart-at", "1", "--grey-at", "2", "--beam-width", "0", "--examples", "0"]
    args += ["--workers", "1"]
    args += ["--no-progress", "--no-plot"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "lipread"]
    proc = subprocess.run([*cmd, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for folder in (out, out / "restart", out / "grey"):
        assert [json.loads(x)["epoch"] for x in (folder / "history.jsonl").read_text().splitlines()] == [1]
    assert [stage["at"] for stage in json.loads((out / "restart.json").read_text())] == [1, 2]
    said = proc.stdout + proc.stderr
    assert said.count("warm restart: 1 epoch from") == said.count("grey fine-tune: 1 epoch from") == 1  # process 0
