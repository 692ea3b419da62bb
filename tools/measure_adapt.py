"""How well ``lipread adapt`` reads a new speaker: leave-one-clip-out on GRID speakers 4 and 5.

For every clip of ``--data`` (``s<N>/<clip>/`` frame folders with ``alignments/s<N>/<clip>.align``, the layout of
``../shared/data/grid/faces``), the other clips of its speaker are the adaptation data and the clip itself is
read by:

- ``zero-shot``: the starting model (``--model``, default the shipped ``lipnet-grid-s1``) as it is;
- ``adapted``: ``lipread adapt`` of that model on the other clips, with its defaults (plus ``--amp``);
- ``random``: the same training (the same epochs and learning rate) from random weights, every weight
  training (frozen random layers would learn nothing), to show what the starting model contributes;
- ``--variant NAME FIELD=VALUE ...``: an adaptation with some :class:`lipread.data.training.TrainOptions`
  fields changed (values in JSON, e.g. ``colour=0.2``), measured as method ``NAME`` beside the others. The
  pseudo-field ``word_times=true`` gives the adaptation clips as a GRID folder with their ``.align`` files
  instead of a manifest, so that the training sees when each word is said (word clips, and the alignment
  tolerance if the variant sets ``align_tolerance``); the other methods' manifests have no word times, as a
  user's manifest has none. The pseudo-field ``interpolate=A`` reads with the weights
  ``A * adapted + (1 - A) * starting model`` instead of the adapted ones (every float tensor, BatchNorm
  statistics too), to see whether staying nearer the starting model generalises better from a handful of clips.
  The pseudo-field ``rehearse=N`` adds ``N`` clips of the starting model's own speaker to every fold's
  adaptation data (drawn once, with a fixed seed, from the training split of ``--rehearsal-data``), so that the
  training keeps seeing the words the new speaker's few clips never show. The pseudo-field ``soup=K`` adapts
  ``K`` times, with seeds 0 to ``K - 1`` (their own clip order, augmentation and dropout draws), and reads
  with the mean of the ``K`` adapted weights (a model soup of adaptations from the same start).

Each is read with the greedy, beam and grammar decoders. Results go to ``--out`` (JSON) after every fold, so an
interrupted run continues where it stopped (``--fresh`` starts over), and a summary table (WER per method and
decoder, word errors per GRID slot) is printed. The runs' folders are deleted once read; the crops stay in
``<work>/cache``. Nothing is tuned here: the training is whatever ``lipread adapt`` chooses for 6 clips.

    OMP_NUM_THREADS=1 python tools/measure_adapt.py [--data ../shared/data/grid/faces] [--work runs/adapt-loo]
        [--out tools/adapt_results.json] [--methods zero-shot adapted random] [--table]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lipread.data.dataset import Clip, find_clips  # noqa: E402
from lipread.data.grid import SLOT_NAMES  # noqa: E402
from lipread.data.metrics import missed_words, summarise  # noqa: E402

DECODERS = ("greedy", "beam", "grammar")
METHODS = ("zero-shot", "adapted", "random")


def _write_grid_folder(root: Path, clips: list[Clip]) -> Path:
    """``clips`` as a GRID layout of links to their frame folders and ``.align`` files, under ``root``."""
    shutil.rmtree(root, ignore_errors=True)
    for c in clips:
        if c.alignment is None:
            sys.exit(f"{c.video}: no .align file, so no word times to adapt with")
        for folder, target in ((root / f"s{c.speaker}", c.video), (root / "alignments" / f"s{c.speaker}", c.alignment)):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / target.name).symlink_to(target.resolve())
    return root


def _rehearsal_clips(data: Path, count: int) -> list[Clip]:
    """``count`` clips of ``data``'s training split (the split ``lipread train`` makes), drawn with seed 0."""
    import numpy as np

    from lipread.data.dataset import split_clips

    train, _ = split_clips(find_clips(data))
    chosen = np.random.default_rng(0).choice(len(train), size=count, replace=False)
    return [train[i] for i in sorted(chosen.tolist())]


def _write_manifest(path: Path, clips: list[Clip]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["video", "text", "speaker"])
        for c in clips:
            writer.writerow([str(c.video.resolve()), c.text, c.speaker])
    return path


def weights_digest(model: str) -> str:
    """SHA-256 of the starting model's weights (names and float32 values): results stay tied to the weights,
    not to the file, whose metadata may change."""
    from lipread.cli.adapt import source_checkpoint
    from lipread.weights import load_checkpoint

    tensors = load_checkpoint(source_checkpoint(model)).tensors
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(name.encode())
        digest.update(tensors[name].astype("<f4").tobytes())
    return digest.hexdigest()


def _read(model: str, clip: Clip) -> dict[str, str]:
    from lipread import transcribe

    return {d: transcribe(clip.video, model=model, decoder=d).text for d in DECODERS}


def _mix(parts: list[tuple[float, Path]], out: Path) -> str:
    """The weighted sum of checkpoints (``(weight, path)``; every float tensor, BatchNorm statistics too) saved
    as ``out.safetensors`` with the first one's config, and exported beside it; returns the ONNX path."""
    import numpy as np

    from lipread.backend import get_backend
    from lipread.weights import load_checkpoint, save_checkpoint

    checkpoints = [(w, load_checkpoint(p)) for w, p in parts]
    first = checkpoints[0][1]
    tensors = {
        name: sum(w * c.tensors[name].astype(np.float64) for w, c in checkpoints).astype(np.float32)
        if a.dtype.kind == "f"
        else a
        for name, a in first.tensors.items()
    }
    backend = get_backend("torch")
    checkpoint = save_checkpoint(out.with_suffix(".safetensors"), tensors, first.config)
    return str(backend.export_onnx(backend.load(checkpoint), out.with_suffix(".onnx")))


def _interpolate(run: Path, model: str, share: float) -> str:
    """``share`` of the adapted weights in ``run`` plus ``1 - share`` of ``model``'s, exported beside them."""
    from lipread.cli.adapt import source_checkpoint

    start = Path(source_checkpoint(model))
    return _mix([(share, run / "model.safetensors"), (1 - share, start)], run / "interpolated")


def _train(
    method: str, data: Path, run: Path, cache: Path, model: str, changes: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Adapt (or train from random weights) on ``data``; returns the ONNX path and facts of the run."""
    from lipread.cli.adapt import adapt, options_from_args
    from lipread.cli.app import build_parser

    args = build_parser().parse_args(
        ["adapt", str(data), "-o", str(run), "--from", model, "--amp", "--workers", "1", "--cache", str(cache)]
    )
    options, plan = options_from_args(args)
    if method == "random":
        # the starting model's classes, not the texts' own alphabet (which a run from scratch would take), so
        # that it reads with the same decoders
        options = dataclasses.replace(options, init=None, freeze=(), vocabulary=options.model_config.vocabulary)
    options = dataclasses.replace(options, **changes)
    started = time.monotonic()
    _, onnx = adapt(options)
    history = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines() if line.strip()]
    facts = {
        "plan": plan,
        "epochs": options.epochs,
        "lr": options.lr,
        "freeze": list(options.freeze),
        "seconds": round(time.monotonic() - started, 1),
        "changes": changes,
        "first_train_loss": history[0]["train_loss"],
        "last_train_loss": history[-1]["train_loss"],
    }
    return str(onnx), facts


def summary(results: dict[str, Any]) -> dict[str, Any]:
    """WER, CER, sentence accuracy and word errors per slot for each method and decoder, over the folds done."""
    out: dict[str, Any] = {}
    methods = list(dict.fromkeys(m for f in results["folds"].values() for m in f if m != "text"))
    for method in sorted(methods, key=lambda m: (*METHODS, m).index(m)):
        folds = [f for f in results["folds"].values() if method in f]
        if not folds:
            continue
        out[method] = {"folds": len(folds)}
        for d in DECODERS:
            refs = [f["text"] for f in folds]
            hyps = [f[method]["read"][d] for f in folds]
            slots = [0] * len(SLOT_NAMES)
            for r, h in zip(refs, hyps):
                slots = [a + b for a, b in zip(slots, missed_words(r.split(), h.split())[0])]
            out[method][d] = {
                **summarise(refs, hyps),
                "slot_error_rates": {n: m / len(folds) for n, m in zip(SLOT_NAMES, slots)},
            }
        seconds = [f[method]["seconds"] for f in folds if "seconds" in f[method]]
        if seconds:
            out[method]["median_seconds"] = sorted(seconds)[len(seconds) // 2]
    return out


def table(s: dict[str, Any]) -> str:
    """The summary as Markdown: one row per method and decoder."""
    lines = [
        "| method | decoder | folds | WER | CER | sentences right | " + " | ".join(SLOT_NAMES) + " |",
        "| --- | --- | --- | --- | --- | --- | " + " | ".join("---" for _ in SLOT_NAMES) + " |",
    ]
    for method, m in s.items():
        for d in DECODERS:
            r = m[d]
            slots = " | ".join(f"{100 * r['slot_error_rates'][n]:.0f}%" for n in SLOT_NAMES)
            lines.append(
                f"| {method} | {d} | {m['folds']} | {100 * r['wer']:.1f}% | {100 * r['cer']:.1f}% | "
                f"{100 * r['sentence_accuracy']:.0f}% | {slots} |"
            )
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "grid" / "faces")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "adapt-loo")
    p.add_argument("--out", type=Path, default=ROOT / "tools" / "adapt_results.json")
    p.add_argument(
        "--rehearsal-data",
        type=Path,
        default=ROOT.parent / "shared" / "data" / "grid",
        help="the starting model's own clips, for variants that set rehearse=N",
    )
    p.add_argument("--model", default="lipnet-grid-s1", help="the model to adapt (a shipped name or .safetensors)")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--fresh", action="store_true", help="forget the results in --out and measure everything again")
    p.add_argument("--variant", nargs="+", metavar="NAME FIELD=VALUE", help="also measure an adaptation so changed")
    p.add_argument("--table", action="store_true", help="only print the table of the results in --out")
    args = p.parse_args()
    if args.table:
        print(table(summary(json.loads(args.out.read_text()))))
        return

    clips = find_clips(args.data)
    if not clips:
        sys.exit(f"{args.data}: no clips")
    results: dict[str, Any] = {"data": str(args.data), "model": args.model, "folds": {}}
    if args.out.is_file() and not args.fresh:
        results = json.loads(args.out.read_text())
        if results.get("model") != args.model:
            sys.exit(f"{args.out} holds results of {results.get('model')}; use --fresh or another --out")
    digest = weights_digest(args.model)
    if results.setdefault("weights_sha256", digest) != digest:
        sys.exit(f"{args.out} holds results of other weights of {args.model}; use --fresh or another --out")
    manifests = args.work / "manifests"  # one folder: the clips' keys, and so the crop cache, are shared
    manifests.mkdir(parents=True, exist_ok=True)
    cache = args.work / "cache"

    def save() -> None:
        results["summary"] = summary(results)
        args.out.write_text(json.dumps(results, indent=1) + "\n")

    plans: list[tuple[str, dict[str, Any]]] = [(m, {}) for m in args.methods]
    if args.variant:
        name, *fields = args.variant
        if name in METHODS:
            sys.exit(f"--variant {name}: choose a name other than {', '.join(METHODS)}")
        changes = {}
        for item in fields:
            field, _, value = item.partition("=")
            changes[field] = json.loads(value)
        plans.append((name, changes))

    # Every method over every fold before the next method: the cheap and the main figures come first.
    for method, changes in plans:
        for held in clips:
            key = f"s{held.speaker}/{held.name}"
            fold = results["folds"].setdefault(key, {"text": held.text})
            if method in fold:
                continue
            print(f"{method} {key}", file=sys.stderr, flush=True)
            if weights_digest(args.model) != digest:
                sys.exit(f"{args.model} changed during the measurement; run again with --fresh")
            if method == "zero-shot":
                fold[method] = {"read": _read(args.model, held)}
            else:
                rest = [c for c in clips if c.speaker == held.speaker and c is not held]
                fields = dict(changes)
                rehearse = int(fields.pop("rehearse", 0))
                if fields.pop("word_times", False):
                    data = _write_grid_folder(args.work / "grid" / f"s{held.speaker}-without-{held.name}", rest)
                else:
                    extra = _rehearsal_clips(args.rehearsal_data, rehearse) if rehearse else []
                    name = f"s{held.speaker}-without-{held.name}" + (f"-rehearse{rehearse}" if rehearse else "")
                    data = _write_manifest(manifests / f"{name}.csv", rest + extra)
                share = fields.pop("interpolate", None)
                soup = int(fields.pop("soup", 0))
                run = args.work / method / f"s{held.speaker}-{held.name}"
                if soup:
                    runs = [run / f"seed{k}" for k in range(soup)]
                    trained = [
                        _train(method, data, r, cache, args.model, {**fields, "seed": k}) for k, r in enumerate(runs)
                    ]
                    facts = {**trained[0][1], "seconds": sum(f["seconds"] for _, f in trained)}
                    onnx = _mix([(1 / soup, r / "model.safetensors") for r in runs], run / "soup")
                else:
                    onnx, facts = _train(method, data, run, cache, args.model, fields)
                if share is not None:
                    onnx = _interpolate(run, args.model, float(share))
                facts["changes"] = changes
                fold[method] = {**facts, "read": _read(onnx, held)}
                shutil.rmtree(run)
            print(f"  {fold[method]['read']}", file=sys.stderr, flush=True)
            save()
    save()
    print(table(results["summary"]))


if __name__ == "__main__":
    main()
