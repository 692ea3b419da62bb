"""Build the shipped default model's files from a finished training run, measuring every number its card states.

Reads ``RUN/best.safetensors`` (float32, as the trainer writes it) and ``RUN/history.jsonl`` and writes into
``--out`` (default ``lipread/models``):

- ``<name>.safetensors``: the canonical checkpoint;
- ``<name>.onnx``: exported by the torch backend from that checkpoint;
- ``<name>.int8.onnx``: the int8 export (``--precision int8``) of the run's float32 weights, its activation
  ranges measured on the first training clips of the run's split (:func:`int8_model`);
- ``<name>.md``: the model card. Its numbers are measured here, never typed in: the largest log-probability
  difference of the shipped checkpoint and ONNX model from the run's float32 weights on validation clips,
  and ``lipread eval`` of the shipped ONNX model on the validation split (the seed-0 random 10%) with greedy,
  beam and grammar-constrained beam decoding, with the median word-boundary errors against the alignments.

The checkpoint and the ONNX model hold the same weights, and the three model files must fit in ``--size-limit``
megabytes together. The int8 model is made first; then the other two files' tensors are stored in 16-bit fixed
point (:mod:`lipread.fixed16`: int16 times a power of two per row, several times closer to the float32 weights
than float16) only as far as the room left needs: of the sets of large tensors whose rounding would make the
files fit, the one that changes the log-probabilities of validation clips least. The ONNX model stores exactly
those weights the same way, so the two give the same outputs.

The three files' metadata also get the statistics of the run's training clips that give every transcript its
``domain_score`` and ``in_domain``, with the calibration of word confidences (``tools/domain_stats.py``, run on
the ONNX model; ``--cache`` names a crop cache for it, ``--no-domain-stats`` leaves it out).

Needs lipread installed with the torch and onnx extras (``pip install -e ".[torch,onnx]"``). Usage::

    python tools/build_default_model.py runs/lipnet-grid-s1 --data ../shared/data/grid \\
        --command "lipread train ../shared/data/grid -o runs/lipnet-grid-s1 ..." [--command "..."]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from lipread.cli.eval import evaluate
from lipread.cli.export import CALIBRATION_CLIPS
from lipread.data.dataset import find_clips, split_clips
from lipread.data.restart import RECIPE
from lipread.fixed16 import from_fixed16, to_fixed16
from lipread.models import DEFAULT_MODEL
from lipread.onnx.half import store_weights_fixed16
from lipread.onnx.quantize import quantize_int8
from lipread.video.preprocess import load_clip
from lipread.weights import load_checkpoint, save_checkpoint

DECODERS = ("greedy", "beam", "grammar")
PARITY_CLIPS = 8
SIZE_LIMIT_MB = 25.0
"""The shipped model files together (checkpoint, ONNX and int8 ONNX), in megabytes of 10**6 bytes."""
HEADROOM = 620_000
"""Bytes kept free under the limit for what is not weights: the ONNX graph and the checkpoint's header (200 kB),
and the domain statistics in each of the three files' metadata (67 kB a set; two sets, 134 kB, for a model
trained on clips made grey too)."""


def validation_batch(data: Path, config: Any, clips: int = PARITY_CLIPS) -> tuple[np.ndarray, np.ndarray]:
    """The first ``clips`` validation clips (seed-0 random 10%) preprocessed: frames and lengths."""
    val = split_clips(find_clips(data), "random", 0.1, 0)[1][:clips]
    x = np.stack([load_clip(c.video, config) for c in val])
    return x, np.full(len(val), x.shape[1], np.int64)


LARGEST = 12
"""How many of the largest tensors the 16-bit search considers (the others are a small part of the bytes)."""
FOLDED = ("frontend.",)
"""Tensors the ONNX export changes (it folds batch normalisation into the convolutions), so that they could not
stay 16-bit there: never chosen."""


def run_split(trained_on: dict[str, Any]) -> tuple[str, float, int]:
    """The split a run trained with, as :func:`lipread.data.dataset.split_clips` takes it: (split, val_fraction,
    seed)."""
    return trained_on.get("split", "random"), trained_on.get("val_fraction", 0.1), trained_on.get("split_seed", 0)


def int8_model(best: Path, data: Path, out: Path, clips: int = CALIBRATION_CLIPS, decoder: str = "grammar") -> Path:
    """Write the int8 export of the float32 checkpoint ``best`` to ``out``, as ``lipread export --quantize int8``
    does, naming ``decoder`` as its default as the other shipped files do, with the activation ranges of the
    first ``clips`` training clips of the run's split (never the validation clips the card's figures are
    measured on)."""
    import tempfile

    from lipread.backend import get_backend

    ck = load_checkpoint(best)
    train = split_clips(find_clips(data), *run_split(ck.trained_on))[0][:clips]
    torch_backend = get_backend("torch")
    with tempfile.TemporaryDirectory() as tmp:
        named = save_checkpoint(
            Path(tmp) / "float32.safetensors",
            ck.as_float32(),
            ck.config.with_(decoder=decoder),
            trained_on=ck.trained_on,
            metrics=ck.metrics,
        )
        fp32 = torch_backend.export_onnx(torch_backend.load(named), Path(tmp) / "float32.onnx")
        return quantize_int8(fp32, out, [load_clip(c.video, ck.config) for c in train])


def rounded(w: np.ndarray) -> np.ndarray:
    """``w`` as 16-bit fixed point gives it back."""
    return from_fixed16(*to_fixed16(w))


def compact_plan(
    tensors: dict[str, np.ndarray], config: Any, x: np.ndarray, lengths: np.ndarray, budget: int
) -> tuple[list[str], float]:
    """Which float32 tensors to store in 16-bit fixed point so that both files (each holding every tensor
    once) fit in ``budget`` bytes, and the harm of doing so: the largest ``|log p|`` change on ``x``.

    Among the :data:`LARGEST` largest weight matrices (biases are few bytes, and the export joins the recurrent
    ones; the front end is left out, see :data:`FOLDED`), every minimal set that brings the
    files under the budget (none of its tensors could stay float32) is tried, and the least harmful one kept.
    No tensor is rounded when the files fit as they are; all of those tensors are when no set is enough.
    """
    from lipread.backend import get_backend

    size = 2 * sum(v.nbytes for v in tensors.values())
    if size <= budget:
        return [], 0.0
    model = get_backend("torch").build(config)
    model.load_state_dict(tensors)
    reference = model.logprobs(x, lengths)

    def harm(names: list[str]) -> float:
        model.load_state_dict({**tensors, **{k: rounded(tensors[k]) for k in names}})
        return float(np.abs(model.logprobs(x, lengths) - reference).max())

    floats = [k for k, v in tensors.items() if v.dtype == np.float32 and v.ndim >= 2 and not k.startswith(FOLDED)]
    largest = sorted(floats, key=lambda k: -tensors[k].nbytes)[:LARGEST]
    need = size - budget  # float32 bytes to halve: half of each in each of the two files
    saved = [tensors[k].nbytes for k in largest]
    minimal = []
    for mask in range(1, 1 << len(largest)):
        picked = [i for i in range(len(largest)) if mask >> i & 1]
        total = sum(saved[i] for i in picked)
        if total >= need and all(total - saved[i] < need for i in picked):
            minimal.append([largest[i] for i in picked])
    if not minimal:
        return largest, harm(largest)
    scored = [(harm(names), names) for names in minimal]
    best_harm, best = min(scored, key=lambda item: item[0])
    return best, best_harm


def differences(
    path: Path, backend: str, reference: np.ndarray, x: np.ndarray, lengths: np.ndarray
) -> dict[str, float]:
    """Largest differences of the model at ``path`` (loaded by ``backend``) from the ``reference``
    log-probabilities on ``x``: in log-probability (``"log_prob"``) and in probability (``"prob"``)."""
    from lipread.backend import get_backend

    out = get_backend(backend).load(path).logprobs(x, lengths)
    return {
        "log_prob": float(np.abs(out - reference).max()),
        "prob": float(np.abs(np.exp(out) - np.exp(reference)).max()),
    }


def build(
    run: Path,
    data: Path,
    commands: list[str],
    out: Path,
    name: str = DEFAULT_MODEL,
    max_clips: int | None = None,
    size_limit_mb: float = SIZE_LIMIT_MB,
    decoder: str = "grammar",
    domain: bool = False,
    cache: Path | None = None,
    calibration_clips: int = CALIBRATION_CLIPS,
) -> dict[str, Any]:
    """Write ``out/<name>.{safetensors,onnx,int8.onnx,md}`` from ``run``, naming ``decoder`` in the model's
    metadata as the one its users get by default; returns the measurements. ``domain``: also store the statistics
    of the training clips that give transcripts their domain score (:func:`domain_statistics`; ``cache``: a crop
    cache folder for them). ``calibration_clips``: training clips that set the int8 model's activation ranges."""
    from lipread.backend import get_backend

    best = run / "best.safetensors"
    ck = load_checkpoint(best)
    config = ck.config.with_(decoder=decoder)
    tensors = ck.as_float32()
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    x, lengths = validation_batch(data, ck.config)
    out.mkdir(parents=True, exist_ok=True)
    int8_path = int8_model(best, data, out / f"{name}.int8.onnx", calibration_clips, decoder)
    budget = int(size_limit_mb * 1e6) - HEADROOM - int8_path.stat().st_size  # what the other two files may take
    fixed, _ = compact_plan(tensors, ck.config, x, lengths, budget)
    checkpoint = save_checkpoint(
        out / f"{name}.safetensors", tensors, config, trained_on=ck.trained_on, metrics=ck.metrics, fixed16=fixed
    )
    torch_backend = get_backend("torch")
    onnx_path = torch_backend.export_onnx(torch_backend.load(checkpoint), out / f"{name}.onnx")
    store_weights_fixed16(onnx_path, onnx_path)
    files = (checkpoint, onnx_path, int8_path)
    domain_stats = domain_statistics(onnx_path, files, data, ck.trained_on, cache) if domain else None
    total = sum(p.stat().st_size for p in files)
    if total > size_limit_mb * 1e6:
        raise SystemExit(f"the model files take {total / 1e6:.2f} MB together, over the {size_limit_mb:g} MB limit")
    reference = torch_backend.load(best).logprobs(x, lengths)
    results = {
        "epochs": len(history),
        "selected_epoch": ck.metrics.get("epoch"),
        "trained_on": ck.trained_on,
        "fixed16": fixed,
        "domain": domain_stats,
        "fixed16_share": sum(tensors[k].size for k in fixed) / sum(v.size for v in tensors.values()),
        "parity": {
            "checkpoint": differences(checkpoint, "torch", reference, x, lengths),
            "onnx": differences(onnx_path, "onnx", reference, x, lengths),
            "int8": differences(int8_path, "onnx", reference, x, lengths),
        },
        "calibration_clips": calibration_clips,
        "sizes_mb": {p.name: round(p.stat().st_size / 1e6, 2) for p in files},
        "total_mb": round(total / 1e6, 2),
        "eval": {
            d: evaluate(data, str(onnx_path), "onnx", d, split="val", max_clips=max_clips, progress=True)
            for d in DECODERS
        },
        "eval_int8": {
            d: evaluate(data, str(int8_path), "onnx", d, split="val", max_clips=max_clips, progress=True)
            for d in DECODERS
        },
    }
    use_file = (out / f"{name}-use.md").is_file()
    (out / f"{name}.md").write_text(card(name, ck.config.name, results, commands, len(find_clips(data)), use_file))
    return results


def domain_statistics(
    onnx_path: Path, files: tuple[Path, ...], data: Path, trained_on: dict[str, Any], cache: Path | None = None
) -> dict[str, Any]:
    """Measure the training clips of the run's split with the float32 ONNX model ``onnx_path`` and store the
    domain statistics in the metadata of every file of ``files``, as ``tools/domain_stats.py`` does (with those
    of the clips made grey for a model trained on such clips too); returns what was stored, in short."""
    import importlib.util

    from lipread.transcription.domain_fit import fit_statistics

    spec = importlib.util.spec_from_file_location("domain_stats", Path(__file__).with_name("domain_stats.py"))
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    measured = tool.measure(onnx_path, data, *run_split(trained_on), cache, workers=2)
    stats = fit_statistics(measured)
    if float(trained_on.get("greyscale") or 0) > 0:  # it reads black-and-white video: judge it as such
        grey = tool.measure(onnx_path, data, *run_split(trained_on), cache, workers=2, grey=True)
        stats = dataclasses.replace(stats, grey=fit_statistics(grey, calibrate=False))
    tool.write_statistics(list(files), stats)
    return {"clips": len(measured), "threshold": stats.threshold, "confidence_calibration": stats.confidence}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def card(name: str, preset: str, r: dict[str, Any], commands: list[str], clips: int, use_file: bool = False) -> str:
    """The model card's Markdown; ``use_file``: a ``<name>-use.md`` (intended use, out-of-scope use, misuse) ships
    beside it, and the card says so."""
    use = (
        " Its intended use, what it is not for and how it must not be used (privacy, surveillance) are in "
        f"`{name}-use.md` beside this card."
        if use_file
        else ""
    )
    rows = []
    for precision, key in (("float32", "eval"), ("int8", "eval_int8")):
        for d, e in r[key].items():
            ms = (
                f"{e['median_start_error_ms']:.0f} / {e['median_end_error_ms']:.0f}"
                if e["median_start_error_ms"] is not None
                else "n/a"
            )
            cells = (_pct(e["cer"]), _pct(e["wer"]), _pct(e["sentence_accuracy"]), ms)
            rows.append(f"| {d} | {precision} | {' | '.join(cells)} |")
    val_clips = next(iter(r["eval"].values()))["clips"]
    ck, ox, q = r["parity"]["checkpoint"], r["parity"]["onnx"], r["parity"]["int8"]
    size = {file.removeprefix(name): mb for file, mb in r["sizes_mb"].items()}
    storage = (
        f"{100 * r['fixed16_share']:.0f}% of them ({', '.join(f'`{k}`' for k in r['fixed16'])}) stored in 16-bit "
        "fixed point (int16 times a power of two per row, `lipread.fixed16`; read back as float32) to fit the "
        "package's size limit: of all the sets of recurrent and output tensors that would fit it, the one whose "
        "rounding changes the outputs least"
        if r["fixed16"]
        else "all stored as float32"
    )
    command_lines = "\n".join(commands) if commands else "(not recorded)"
    init, tolerance = r["trained_on"].get("init"), r["trained_on"].get("align_tolerance")
    started = f", starting from the weights that the commands before its own (below) left in `{init}`" if init else ""
    tied = (
        f"Its CTC alignments were tied to the `.align` word times (`--align-tolerance {tolerance}`), so that word "
        "times follow the speaker. "
        if tolerance is not None
        else ""
    )
    train = [c for c in commands if c.startswith("lipread train ")]
    inits = sum("--init" in c for c in train)
    staged = RECIPE[:inits] if any("--init" not in c for c in train) else ()
    one_command = (
        "\n\n`lipread train DATA -o RUN` with today's defaults runs the last from-scratch schedule and the "
        f"{'`--init` command' if len(staged) == 1 else f'{len(staged)} `--init` commands'} after it in one command: "
        + ", then ".join(f"the {r.name} in `RUN/{r.folder}`" for r in staged)
        + ", each from the best weights before it, with one seed for all."
        if staged
        else ""
    )
    if staged and inits > len(staged):
        one_command += " The commands after those are their own, each from the weights of the one before."
    grey = r["trained_on"].get("greyscale") or 0
    reads_grey = (
        f" Its last training made a share of {grey:g} of the clips grey (their luma in all three channels), so "
        "that it reads black-and-white video too."
        if grey
        else ""
    )
    return f"""# `{name}`

LipNet (the `{preset}` preset: three spatio-temporal convolutions, two bidirectional GRUs, CTC over 28 classes)
trained on speaker 1 of the GRID corpus. **It reads GRID-grammar sentences (command, colour, preposition,
letter, digit, adverb: "bin blue at f two now") spoken by GRID speaker 1, filmed as in GRID. It is not a
general lip reader**: other speakers, other sentences, other languages or other camera set-ups give wrong
text.{use}

## Data and licence

- GRID audiovisual sentence corpus, speaker 1: {clips} clips (M. Cooke, J. Barker, S. Cunningham and X. Shao,
  2006, *The Journal of the Acoustical Society of America* 120(5), 2421-2424), published under the Creative
  Commons Attribution 4.0 licence. This model is a work derived from it under that licence.
- Split: `--split random --val-fraction 0.1 --seed 0`; the {val_clips} validation clips were never trained on.
- Input: the default preprocessing of `lipread.transcribe` (BlazeFace face location, one 100x50 RGB mouth box
  per clip, standardised per clip), at 25 frames per second.{reads_grey}

## Training

`lipread train` with the torch backend{started}, {r["epochs"]} epochs; the shipped weights are those of
epoch {r["selected_epoch"]}, the epoch with the lowest validation greedy WER (ties: lower validation loss).
{tied}The exact commands, in order (`--resume` continues a run, `--init` starts one from another's weights):

```bash
{command_lines}
```{one_command}

## Accuracy on the validation clips

`lipread eval` of the shipped ONNX models on the {val_clips} validation clips (the epoch was chosen on these
clips too): the float32 one, and the int8 one that `--precision int8` runs. Word-boundary error: median absolute
difference between each predicted word's start / end and the `.align` time of the word in the same position,
over the clips with as many predicted words as spoken ones.

| decoder | precision | CER | WER | sentence accuracy | median start / end error (ms) |
| --- | --- | --- | --- | --- | --- |
{chr(10).join(rows)}

## Files

- `{name}.onnx` ({size[".onnx"]} MB) and `{name}.safetensors` ({size[".safetensors"]} MB). They hold the float32
  weights the run trained, {storage}.
- `{name}.int8.onnx` ({size[".int8.onnx"]} MB), which `--precision int8` runs: the convolutions and the output
  layer compute in int8 (ONNX Runtime's static quantisation, its activation ranges measured on the first
  {r["calibration_clips"]} training clips), the recurrent layers in float32 from weights stored as int8 rows.
- {r["total_mb"]} MB together.
- The largest difference from the run's float32 weights, over every frame and class of {PARITY_CLIPS}
  validation clips: {ck["log_prob"]:.2g} in log-probability ({ck["prob"]:.2g} in probability) for the
  checkpoint (torch backend), {ox["log_prob"]:.2g} ({ox["prob"]:.2g}) for the ONNX model (onnxruntime),
  {q["log_prob"]:.2g} ({q["prob"]:.2g}) for the int8 model.
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", type=Path, help="training run folder (best.safetensors, history.jsonl)")
    p.add_argument("--data", type=Path, required=True, help="the GRID folder the run trained on")
    p.add_argument("--command", action="append", default=[], help="a training command, in order (repeat)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "lipread" / "models")
    p.add_argument("--name", default=DEFAULT_MODEL)
    p.add_argument("--max-clips", type=int, help="evaluate only the first N validation clips (quick checks)")
    p.add_argument("--decoder", choices=DECODERS, default="grammar", help="the decoder the model names as its default")
    p.add_argument(
        "--size-limit",
        type=float,
        default=SIZE_LIMIT_MB,
        help=f"megabytes (10**6 bytes) the three model files may take together (default {SIZE_LIMIT_MB:g})",
    )
    p.add_argument(
        "--no-domain-stats",
        action="store_true",
        help="leave out the training clips' statistics (tools/domain_stats.py) that give transcripts a domain score",
    )
    p.add_argument("--cache", type=Path, help="crop cache folder for those statistics (default: none)")
    args = p.parse_args(argv)
    results = build(
        args.run,
        args.data,
        args.command,
        args.out,
        args.name,
        args.max_clips,
        args.size_limit,
        args.decoder,
        domain=not args.no_domain_stats,
        cache=args.cache,
    )
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
