"""Train several recipes side by side in a fixed time, then evaluate and tabulate them.

Each run of the plan (a JSON object: run name -> extra ``lipread train`` arguments) trains as its own
``lipread train`` process, all at once (one GPU is shared by time slices; each process takes about one CPU
core). All runs get the same epoch budget and the same learning-rate schedule:

1. every run trains one epoch (``--epochs 1``), which measures an epoch's wall time with all of them running;
2. the budget E is the number of such epochs that fit in ``--minutes``, at most ``--max-epochs``; every run
   resumes up to E epochs, at the full learning rate for the first 70% and then decaying by
   ``exp(-3 / (0.3 E))`` per epoch (to 5% at the end), the card's recipe compressed to E epochs;
3. every run's ``best.safetensors`` (the epoch with the lowest validation greedy WER) is read on the
   validation clips with the greedy, beam and grammar decoders.

Results: ``<runs>/<name>/`` (checkpoints, ``history.jsonl``, ``command.txt``), ``<runs>/<name>.log`` and
``<runs>/summary.json`` / ``summary.md``. The crops come from ``--cache`` (fill it first, or unpack one with
``tools/pack_crops.py``), so no video is decoded.

    python tools/ablate.py ../shared/data/grid --plan tools/ablations.json --runs runs/abl --cache runs/cache \\
        --minutes 8
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

DECODERS = ("greedy", "beam", "grammar")


def train_command(data: Path, run: Path, cache: Path, extra: list[str], schedule: list[str]) -> list[str]:
    """The ``lipread train`` command line of one run."""
    base = [sys.executable, "-m", "lipread", "train", str(data), "-o", str(run), "--cache", str(cache)]
    return [*base, "--no-progress", "--workers", "1", "--examples", "0", *extra, *schedule]


def launch_all(commands: dict[str, list[str]], runs: Path) -> dict[str, int]:
    """Start every command at once (one thread for BLAS each); wait; the exit status of each."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    procs = {}
    for name, cmd in commands.items():
        log = open(runs / f"{name}.log", "a")  # noqa: SIM115 - closed with the process below
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env), log)
    codes = {}
    for name, (proc, log) in procs.items():
        codes[name] = proc.wait()
        log.close()
    return codes


def history(run: Path) -> list[dict[str, Any]]:
    """A run's ``history.jsonl`` records (none if it has none yet)."""
    path = run / "history.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def schedule(epochs: int) -> list[str]:
    """The card's first schedule compressed to ``epochs``: constant for 70%, then down to 5% of the rate; no warm
    restart, whatever the budget."""
    constant = max(1, round(0.7 * epochs))
    decay = 3.0 / max(1, epochs - constant)
    return ["--epochs", str(epochs), "--constant-epochs", str(constant), "--decay", f"{decay:.4f}", "--restart-at", "0"]


def evaluate(run: Path, data: Path, cache: Path, device: str) -> dict[str, Any]:
    """CER/WER/sentence accuracy of ``run/best.safetensors`` on the run's validation clips, per decoder."""
    import numpy as np

    from lipread.data.dataset import CropCache
    from lipread.data.metrics import summarise
    from lipread.data.training import TrainOptions, training_clips
    from lipread.decoding.decoders import make_decoder
    from lipread.video.preprocess import normalise
    from lipread_torch import backend

    model = backend.load(run / "best.safetensors", device=device)
    config = model.config
    argv = (run / "command.txt").read_text().split()
    split_seed = int(argv[argv.index("--split-seed") + 1]) if "--split-seed" in argv else 0
    _, val = training_clips(TrainOptions(data=data, output=run, config=config, split_seed=split_seed))
    crops = CropCache(cache, config)
    texts, logprobs, lengths = [], [], []
    for i in range(0, len(val), 16):
        batch = [normalise(crops.get(c)) for c in val[i : i + 16]]
        t = max(len(b) for b in batch)
        x = np.zeros((len(batch), t, *batch[0].shape[1:]), np.float32)
        for j, b in enumerate(batch):
            x[j, : len(b)] = b
        lens = np.array([len(b) for b in batch])
        lp = model.logprobs(x, lens)
        logprobs += list(lp)
        lengths += list(lens)
        texts += [c.text for c in val[i : i + 16]]
    t = max(len(lp) for lp in logprobs)
    lp_all = np.stack([np.pad(lp, ((0, t - len(lp)), (0, 0))) for lp in logprobs])
    out: dict[str, Any] = {"epoch": _best_epoch(run), "clips": len(val)}
    for name in DECODERS:
        hyps = make_decoder(name, config.vocabulary).decode_batch(lp_all, np.array(lengths))
        out[name] = summarise(texts, [h.text for h in hyps])
    return out


def _best_epoch(run: Path) -> int | None:
    """The epoch ``best.safetensors`` holds: lowest validation greedy WER, ties by lower loss."""
    records = [r for r in history(run) if r.get("metrics")]
    if not records:
        return None
    return min(records, key=lambda r: (r["metrics"]["greedy_wer"], r["val_loss"]))["epoch"]


def table(summary: dict[str, dict[str, Any]]) -> str:
    """The summary as a Markdown table: one row per run, CER/WER/sentence accuracy per decoder."""
    head = "| run | epochs | best epoch | " + " | ".join(f"{d} CER | {d} WER | {d} sentences" for d in DECODERS)
    rows = [head + " |", "|" + " --- |" * (3 + 3 * len(DECODERS))]
    for name, s in summary.items():
        if "error" in s:
            rows.append(f"| {name} | {s.get('epochs', '?')} | {s['error']} |" + " |" * (1 + 3 * len(DECODERS)))
            continue
        cells = [name, str(s["epochs"]), str(s["epoch"])]
        for d in DECODERS:
            m = s[d]
            cells += [f"{m['cer']:.1%}", f"{m['wer']:.1%}", f"{m['sentence_accuracy']:.1%}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", type=Path, help="the training data (as lipread train takes it)")
    parser.add_argument("--plan", type=Path, required=True, help="JSON: run name -> list of extra arguments")
    parser.add_argument("--runs", type=Path, required=True, help="folder for the run folders")
    parser.add_argument("--cache", type=Path, required=True, help="the crop cache (lipread train --cache)")
    parser.add_argument("--minutes", type=float, required=True, help="wall time for the training, all runs")
    parser.add_argument("--max-epochs", type=int, default=107, help="the largest epoch budget (default: 107)")
    parser.add_argument("--epochs", type=int, help="a fixed epoch budget (no timing epoch)")
    parser.add_argument("--only", nargs="*", help="run only these names of the plan")
    parser.add_argument("--device", default="auto", help="device for the evaluation (default: auto)")
    args = parser.parse_args()

    started = time.monotonic()
    plan: dict[str, list[str]] = json.loads(args.plan.read_text())
    if args.only:
        plan = {k: v for k, v in plan.items() if k in args.only}
    args.runs.mkdir(parents=True, exist_ok=True)
    if args.epochs is None:
        first = {
            n: train_command(args.data, args.runs / n, args.cache, extra, schedule(1)) for n, extra in plan.items()
        }
        t0 = time.monotonic()
        launch_all(first, args.runs)
        per_epoch = max((history(args.runs / n) or [{"seconds": math.inf}])[0]["seconds"] for n in plan)
        start_up = time.monotonic() - t0 - per_epoch  # a process's start: imports, crops into memory, warm-up
        left = args.minutes * 60 - (time.monotonic() - started) - start_up
        budget = max(1, min(args.max_epochs, 1 + int(left / (per_epoch * 1.1))))
        print(
            f"one epoch takes {per_epoch:.1f} s with {len(plan)} runs at once, a start {start_up:.0f} s: "
            f"budget {budget} epochs",
            flush=True,
        )
    else:
        budget = args.epochs
    commands = {
        n: train_command(args.data, args.runs / n, args.cache, extra, schedule(budget)) for n, extra in plan.items()
    }
    for n, cmd in commands.items():
        (args.runs / n).mkdir(parents=True, exist_ok=True)
        shown = ["lipread", *cmd[3:]]
        (args.runs / n / "command.txt").write_text(" ".join(shown) + "\n")
    left = args.minutes * 60 - (time.monotonic() - started)
    resume = [] if args.epochs is not None else ["--resume"]
    limit = ["--time-limit", f"{max(0.1, left / 60):.2f}"]
    codes = launch_all({n: c + resume + limit for n, c in commands.items()}, args.runs)

    summary: dict[str, dict[str, Any]] = {}
    with ProcessPoolExecutor(min(len(plan), os.cpu_count() or 1)) as pool:
        jobs = {n: pool.submit(evaluate, args.runs / n, args.data, args.cache, args.device) for n in plan}
        for n, job in jobs.items():
            epochs = len(history(args.runs / n))
            try:
                summary[n] = {"epochs": epochs, "exit": codes[n], **job.result()}
            except Exception as e:  # a run that failed to train: say so in its row, keep the others
                summary[n] = {"epochs": epochs, "exit": codes[n], "error": f"{type(e).__name__}: {e}"}
    summary_info = {"budget": budget, "minutes": (time.monotonic() - started) / 60, "runs": summary}
    (args.runs / "summary.json").write_text(json.dumps(summary_info, indent=1) + "\n")
    (args.runs / "summary.md").write_text(table(summary))
    print(table(summary))


if __name__ == "__main__":
    main()
