"""Crash-safe training: SIGKILL at random moments never leaves a half-written checkpoint, ``--resume``
continues from the last complete one and ends with the weights of an uninterrupted run; broken clips in
the data are reported once and skipped."""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lipread.config import ConvBlock, ModelConfig, get_preset  # noqa: E402
from lipread.data.training import TrainOptions  # noqa: E402
from lipread.weights import load_checkpoint  # noqa: E402
from lipread_torch import backend  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]

CHECKOUT = Path(__file__).resolve().parents[1]
GOOD = ("bbaf2n", "bbaf3s", "bbaf4p", "bbaf5a")  # the first GRID speaker-1 clips
EPOCHS = 6
FILES = {"last.ckpt", "best.ckpt", "last.safetensors", "best.safetensors", "history.jsonl", "words.txt"}
TIMING = ("seconds", "clips_per_second")  # the only history fields that may differ between runs


def tiny_config() -> ModelConfig:
    """The ``lipnet`` preset (input 75x50x100x3) with 4/6/5 channels and a 2-layer GRU of 8 units."""
    base = get_preset("lipnet")
    blocks = tuple(
        ConvBlock(c, b.kernel, b.stride, b.padding, b.batchnorm, 0.5, b.pool) for c, b in zip((4, 6, 5), base.frontend)
    )
    return base.with_(frontend=blocks, rnn_hidden=8, rnn_layers=2)


TINY = tiny_config()


def make_data(grid_root: Path, dest: Path, names: tuple[str, ...]) -> Path:
    """A data folder in the shared layout holding links to ``names``' videos and alignments."""
    (dest / "s1").mkdir(parents=True)
    (dest / "alignments" / "s1").mkdir(parents=True)
    for name in names:
        (dest / "s1" / f"{name}.mp4").symlink_to(grid_root / "s1" / f"{name}.mp4")
        (dest / "alignments" / "s1" / f"{name}.align").symlink_to(grid_root / "alignments" / "s1" / f"{name}.align")
    return dest


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crops")


@dataclass
class Trainer:
    """``python -m lipread train`` on a tiny model, single-threaded, as a child process."""

    data: Path
    cache: Path
    config: Path

    def start(self, out: Path, log: Path, resume: bool) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "lipread", "train", str(self.data), "-o", str(out), "--backend", "torch"]
        args += ["--model-config", str(self.config), "--cache", str(self.cache), "--device", "cpu"]
        args += ["--epochs", str(EPOCHS), "--batch-size", "2", "--val-fraction", "0.25", "--workers", "1"]
        args += ["--beam-width", "0", "--examples", "0", "--no-progress", "--no-plot", "--seed", "3"]
        args += ["--resume"] if resume else []
        env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
        with open(log, "wb") as f:
            return subprocess.Popen(args, cwd=CHECKOUT, env=env, stdout=f, stderr=subprocess.STDOUT)


def without_timing(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


def check_files(out: Path, pids: list[int], reference: list[dict[str, Any]]) -> tuple[dict[str, int], bool]:
    """Assert that every file the killed runs ``pids`` (the last one killed last) left in ``out`` is
    complete and consistent with the uninterrupted run's history.

    Returns:
        the epoch each file holds, and whether the last kill left a temporary file.
    """
    if not out.is_dir():
        return {}, False
    names = {p.name for p in out.iterdir()}
    temporaries = names - FILES
    # anything else is an unfinished atomic write of a killed process, named so that nothing reads it
    killed = {f".tmp{pid}" for pid in pids}
    assert all(n.startswith(".") and n[n.rfind(".tmp") :] in killed for n in temporaries), temporaries
    epochs: dict[str, int] = {}
    for name in ("last.ckpt", "best.ckpt"):
        if name in names:
            payload = torch.load(out / name, map_location="cpu", weights_only=True)
            assert payload["format"] == "lipread-torch-train"
            assert without_timing(json.loads(payload["history"])) == reference[: payload["epoch"]]
            epochs[name] = payload["epoch"]
    for name in ("last.safetensors", "best.safetensors"):
        if name in names:
            ckpt = load_checkpoint(out / name)
            assert ckpt.config == TINY and all(np.isfinite(t).all() for t in ckpt.tensors.values())
            epochs[name] = ckpt.metrics["epoch"]
    if "history.jsonl" in names:
        lines = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
        assert without_timing(lines) == reference[: len(lines)]
        epochs["history.jsonl"] = len(lines)
    last = epochs.get("last.ckpt", 0)
    # last.ckpt is written last: every other file is at its epoch or, when the kill came in between, one
    # ahead (that epoch is trained again on resume and rewritten identically)
    assert last <= epochs.get("last.safetensors", 0) <= last + 1, epochs
    assert epochs.get("best.ckpt", 0) <= last + 1 and epochs.get("best.safetensors", 0) <= last + 1, epochs
    assert last - 1 <= epochs.get("history.jsonl", 0) <= last, epochs  # written after last.ckpt
    return epochs, any(n.endswith(f".tmp{pids[-1]}") for n in temporaries)


def between_files(epochs: dict[str, int]) -> bool:
    """Whether the files are at different epochs because a kill came while an epoch's files were written."""
    last = epochs.get("last.ckpt", 0)
    ahead = [name for name in ("last.safetensors", "best.ckpt", "best.safetensors") if epochs.get(name) == last + 1]
    return bool(ahead) or epochs.get("history.jsonl", 0) == last - 1


def kill_when_writing(proc: subprocess.Popen[bytes], out: Path, delay: float, limit: float) -> bool:
    """SIGKILL ``proc`` ``delay`` seconds after it starts writing a checkpoint (a temporary file appears) once
    ``out`` holds a complete ``last.ckpt``, so that the next run has a checkpoint to resume from, however
    long the start-up takes against the epochs (random kill times may all fall before the first checkpoint).

    Returns whether it was killed (False: it ended first)."""
    suffix = f".tmp{proc.pid}"
    end = time.monotonic() + limit
    while proc.poll() is None and time.monotonic() < end:
        try:
            names = os.listdir(out)
        except FileNotFoundError:
            names = []
        if "last.ckpt" in names and any(n.endswith(suffix) and not n.startswith(".history") for n in names):
            time.sleep(delay)
            break
        time.sleep(0.0005)
    return kill(proc)


def kill_at(proc: subprocess.Popen[bytes], seconds: float) -> bool:
    """SIGKILL ``proc`` ``seconds`` after it started; returns whether it was killed (False: it ended first)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=seconds)
    return kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> bool:
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return True


def final_state(out: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, Any]]:
    payload = torch.load(out / "last.ckpt", map_location="cpu", weights_only=True)
    return load_checkpoint(out / "last.safetensors").tensors, load_checkpoint(out / "best.safetensors").tensors, payload


def assert_same_run(out: Path, ref: Path) -> None:
    """Bit-for-bit the same weights, optimiser state and history as the uninterrupted run in ``ref``."""
    assert {p.name for p in out.iterdir()} == FILES  # no temporary file left behind
    (last, best, payload), (ref_last, ref_best, ref_payload) = final_state(out), final_state(ref)
    for got, want in ((last, ref_last), (best, ref_best)):
        assert got.keys() == want.keys()
        for k in want:
            assert np.array_equal(got[k], want[k]), k
    for k, v in ref_payload["model"].items():
        assert torch.equal(payload["model"][k], v), k
    for p, state in ref_payload["optimiser"]["state"].items():
        for k, v in state.items():
            assert torch.equal(payload["optimiser"]["state"][p][k], v), (p, k)
    ref_history = [json.loads(x) for x in (ref / "history.jsonl").read_text().splitlines()]
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert without_timing(history) == without_timing(ref_history)


def test_sigkill_at_random_moments_then_resume(grid_root: Path, cache: Path, tmp_path: Path) -> None:
    """12 SIGKILLs (7 at random times, 5 while a checkpoint is being written), each followed by
    ``--resume``: all files stay loadable and the finished run equals an uninterrupted one bit for bit."""
    config = tmp_path / "tiny.json"
    config.write_text(TINY.dumps())
    trainer = Trainer(make_data(grid_root, tmp_path / "data", GOOD), cache, config)

    ref = tmp_path / "reference"
    t0 = time.monotonic()
    proc = trainer.start(ref, tmp_path / "reference.log", resume=False)
    assert proc.wait(timeout=300) == 0, (tmp_path / "reference.log").read_text()
    duration = time.monotonic() - t0
    reference = without_timing([json.loads(x) for x in (ref / "history.jsonl").read_text().splitlines()])
    assert [h["epoch"] for h in reference] == list(range(1, EPOCHS + 1))

    rng = random.Random(7)
    plans: list[tuple[str, float]] = [("time", rng.uniform(0.2, duration)) for _ in range(7)]
    plans += [("write", rng.choice([0.0, 0.0005, 0.002, 0.005, 0.02])) for _ in range(5)]
    rng.shuffle(plans)

    rounds, kills, resumes_checked, runs, mid_write = 0, 0, 0, 0, 0
    out, pending, pids, epochs = tmp_path / "run0", plans[:], list[int](), dict[str, int]()
    while runs < 50:
        log = tmp_path / f"train{runs}.log"
        started = time.monotonic()
        last = epochs.get("last.ckpt", 0)
        proc = trainer.start(out, log, resume=last > 0)
        runs += 1
        killed = False
        if pending:
            kind, value = pending[0]
            killed = kill_at(proc, value) if kind == "time" else kill_when_writing(proc, out, value, 3 * duration)
        if not killed:
            assert proc.wait(timeout=300) == 0, log.read_text()
            if last == 0 and pending and pending[0][0] == "time":  # too late even for a whole run: redraw
                pending[0] = ("time", rng.uniform(0.2, time.monotonic() - started))
        text = log.read_text()
        if last > 0 and "resuming from" in text:
            # the resumed run continued from the last complete checkpoint the killed one left
            assert f"resuming from {out / 'last.ckpt'} after epoch {last}\n" in text, text
            resumes_checked += 1
        if not killed:
            # the run finished before its planned kill: compare it, then go on in a fresh folder
            assert_same_run(out, ref)
            rounds += 1
            if not pending:
                break
            out, pids, epochs = tmp_path / f"run{rounds}", [], {}
            continue
        pending.pop(0)
        kills += 1
        pids.append(proc.pid)
        before, (epochs, temporary) = epochs, check_files(out, pids, reference)
        mid_write += temporary or (epochs != before and between_files(epochs))

    assert kills == len(plans) == 12
    assert resumes_checked >= 1  # the resumes from a checkpoint that got as far as saying so
    assert mid_write >= 1  # at least one kill interrupted the writing of an epoch's files
    print(
        f"{kills} kills ({mid_write} while writing an epoch's files), {resumes_checked} resumes seen, "
        f"{rounds} runs completed, {time.monotonic() - t0:.1f}s"
    )


def test_broken_clips_are_reported_once_and_skipped(
    grid_root: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_data(grid_root, tmp_path / "data", GOOD)
    video, align = data / "s1", data / "alignments" / "s1"
    broken = {
        "bbal6n": b"",  # empty video
        "bbal7s": b"this is not a video\n" * 10,  # a text file named .mp4
        "bbal8p": (grid_root / "s1" / "bbal8p.mp4").read_bytes()[:30_000],  # truncated
    }
    for name, content in broken.items():
        (video / f"{name}.mp4").write_bytes(content)
        shutil.copy(grid_root / "alignments" / "s1" / f"{name}.align", align / f"{name}.align")
    # a good video whose alignment is garbage
    (video / "bbal9a.mp4").symlink_to(grid_root / "s1" / "bbal9a.mp4")
    (align / "bbal9a.align").write_text("garbage\n0 x\nnot an alignment at all\n")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        options = TrainOptions(
            data=data,
            output=tmp_path / "run",
            cache=cache,
            config=TINY,
            val_fraction=0.25,
            epochs=3,
            batch_size=2,
            lr=1e-4,
            constant_epochs=30,
            word_clips=0.0,
            align_tolerance=None,
            conv_dropout=None,
            workers=1,
            progress=False,
            beam_width=0,
            examples=0,
            device="cpu",
        )
        result = backend.train(options)
    finally:
        torch.set_num_threads(threads)
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    reasons = {"bbal6n": "empty", "bbal7s": "cannot decode", "bbal8p": "truncated", "bbal9a": "bbal9a.align"}
    for name, reason in reasons.items():
        reports = [line for line in lines if name in line]  # over 3 epochs, once
        assert len(reports) == 1, (name, reports)
        assert "skip" in reports[0] and reason in reports[0], reports[0]
    assert not [line for line in lines if any(name in line for name in GOOD)]
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert all(np.isfinite(h["train_loss"]) for h in result.history)
    trained = next(line for line in lines if line.startswith("training on"))
    counts = [int(w) for w in trained.replace(",", " ").split() if w.isdigit()]
    assert sum(counts[:2]) == len(GOOD), trained  # the 4 good clips, split into training and validation
    assert load_checkpoint(result.last).config == TINY
