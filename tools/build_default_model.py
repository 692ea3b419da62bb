"""Build the shipped default model's files from a finished training run, measuring every number its card states.

Reads ``RUN/best.safetensors`` (float32, as the trainer writes it) and ``RUN/history.jsonl`` and writes into
``--out`` (default ``lipread/models``):

- ``<name>.safetensors``: the canonical checkpoint, float16 storage;
- ``<name>.onnx``: exported by the torch backend from that checkpoint, float16 weights;
- ``<name>.md``: the model card. Its numbers are measured here, never typed in: the largest log-probability
  difference of the shipped ONNX model from the run's float32 weights on validation clips, and
  ``lipread eval`` of the shipped ONNX model on the validation split (the seed-0 random 10%) with greedy,
  beam and grammar-constrained beam decoding, with the median word-boundary errors against the alignments.

Needs lipread installed with the torch and onnx extras (``pip install -e ".[torch,onnx]"``). Usage::

    python tools/build_default_model.py runs/lipnet-grid-s1 --data ../shared/data/grid \\
        --command "lipread train ../shared/data/grid -o runs/lipnet-grid-s1 ..." [--command "..."]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lipread.commands.eval import evaluate
from lipread.dataset import find_clips, split_clips
from lipread.models import DEFAULT_MODEL
from lipread.onnxhalf import store_weights_fp16
from lipread.preprocess import load_clip
from lipread.weights import load_checkpoint, save_checkpoint

DECODERS = ("greedy", "beam", "grammar")
PARITY_CLIPS = 8


def parity(fp32: Path, onnx_path: Path, data: Path, clips: int = PARITY_CLIPS) -> float:
    """Largest ``|log p|`` difference between the ONNX model and the float32 checkpoint on validation clips."""
    from lipread.backend import get_backend

    reference = get_backend("torch").load(fp32)
    shipped = get_backend("onnx").load(onnx_path)
    val = split_clips(find_clips(data), "random", 0.1, 0)[1][:clips]
    x = np.stack([load_clip(c.video, reference.config) for c in val])
    lengths = np.full(len(val), x.shape[1], np.int64)
    return float(np.abs(shipped.logprobs(x, lengths) - reference.logprobs(x, lengths)).max())


def build(
    run: Path, data: Path, commands: list[str], out: Path, name: str = DEFAULT_MODEL, max_clips: int | None = None
) -> dict[str, Any]:
    """Write ``out/<name>.{safetensors,onnx,md}`` from ``run``; returns the measurements."""
    from lipread.backend import get_backend

    best = run / "best.safetensors"
    ck = load_checkpoint(best)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = save_checkpoint(
        out / f"{name}.safetensors",
        ck.tensors,
        ck.config,
        trained_on=ck.trained_on,
        metrics=ck.metrics,
        dtype="float16",
    )
    torch_backend = get_backend("torch")
    onnx_path = torch_backend.export_onnx(torch_backend.load(checkpoint), out / f"{name}.onnx")
    store_weights_fp16(onnx_path, onnx_path)
    results = {
        "epochs": len(history),
        "selected_epoch": ck.metrics.get("epoch"),
        "parity": parity(best, onnx_path, data),
        "sizes_mb": {p.suffix: round(p.stat().st_size / 2**20, 1) for p in (checkpoint, onnx_path)},
        "eval": {
            d: evaluate(data, str(onnx_path), "onnx", d, split="val", max_clips=max_clips, progress=True)
            for d in DECODERS
        },
    }
    (out / f"{name}.md").write_text(card(name, ck.config.name, results, commands, len(find_clips(data))))
    return results


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def card(name: str, preset: str, r: dict[str, Any], commands: list[str], clips: int) -> str:
    """The model card's Markdown."""
    rows = []
    for d, e in r["eval"].items():
        ms = (
            f"{e['median_start_error_ms']:.0f} / {e['median_end_error_ms']:.0f}"
            if e["median_start_error_ms"] is not None
            else "n/a"
        )
        rows.append(f"| {d} | {_pct(e['cer'])} | {_pct(e['wer'])} | {_pct(e['sentence_accuracy'])} | {ms} |")
    val_clips = next(iter(r["eval"].values()))["clips"]
    command_lines = "\n".join(commands) if commands else "(not recorded)"
    return f"""# `{name}`

LipNet (the `{preset}` preset: three spatio-temporal convolutions, two bidirectional GRUs, CTC over 28 classes)
trained on speaker 1 of the GRID corpus. **It reads GRID-grammar sentences (command, colour, preposition,
letter, digit, adverb: "bin blue at f two now") spoken by GRID speaker 1, filmed as in GRID. It is not a
general lip reader**: other speakers, other sentences, other languages or other camera set-ups give wrong
text.

## Data and licence

- GRID audiovisual sentence corpus, speaker 1: {clips} clips (M. Cooke, J. Barker, S. Cunningham and X. Shao,
  2006, *The Journal of the Acoustical Society of America* 120(5), 2421-2424), published under the Creative
  Commons Attribution 4.0 licence. This model is a work derived from it under that licence.
- Split: `--split random --val-fraction 0.1 --seed 0`; the {val_clips} validation clips were never trained on.
- Input: the default preprocessing of `lipread.transcribe` (BlazeFace face location, one 100x50 RGB mouth box
  per clip, standardised per clip), at 25 frames per second.

## Training

`lipread train` with the torch backend, {r["epochs"]} epochs; the shipped weights are those of epoch
{r["selected_epoch"]}, the epoch with the lowest validation greedy WER (ties: lower validation loss). The exact
commands, in order (each later one resumed the run with `--resume`):

```bash
{command_lines}
```

## Accuracy on the validation clips

`lipread eval` of the shipped ONNX model on the {val_clips} validation clips (the epoch was chosen on these
clips too). Word-boundary error: median absolute difference between each predicted word's start / end and
the `.align` time of the word in the same position, over the clips with as many predicted words as spoken
ones.

| decoder | CER | WER | sentence accuracy | median start / end error (ms) |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

## Files

- `{name}.onnx` ({r["sizes_mb"][".onnx"]} MB) and `{name}.safetensors` ({r["sizes_mb"][".safetensors"]} MB),
  float16 storage of the float32 weights the run trained.
- The largest log-probability difference of the shipped ONNX model from the run's float32 weights on
  {PARITY_CLIPS} validation clips: {r["parity"]:.2g}.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="training run folder (best.safetensors, history.jsonl)")
    p.add_argument("--data", type=Path, required=True, help="the GRID folder the run trained on")
    p.add_argument("--command", action="append", default=[], help="a training command, in order (repeat)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "lipread" / "models")
    p.add_argument("--name", default=DEFAULT_MODEL)
    p.add_argument("--max-clips", type=int, help="evaluate only the first N validation clips (quick checks)")
    args = p.parse_args(argv)
    results = build(args.run, args.data, args.command, args.out, args.name, args.max_clips)
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
