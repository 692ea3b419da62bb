"""Write a model's domain statistics (what its training clips look like to it) into its files' metadata.

Runs the model over the training clips of DATA (the split it was trained with: by default the seed-0 random
10% held out, as ``lipread train`` does), measures what :mod:`lipread.transcription.domain` compares clips
with, fits a word-confidence calibration per decoder (``--decoders``: by default the model's own only) on the
same clips, and stores the result as ``trained_on["domain"]``
in the metadata of MODEL (and of every ``--also`` file, e.g. the ONNX export of a checkpoint). Only the
metadata changes: the checkpoint's tensors and the ONNX graph stay byte for byte the same (checked before the
files are replaced). Transcripts of the model then carry ``domain_score`` and ``in_domain``.

MODEL is a shipped model's name (its checkpoint and ONNX files are written, and its int8 file where there is
one) or a ``.safetensors`` / ``.onnx`` file. Writing an ONNX file needs the ``onnx`` package (the ``torch`` or
``tf`` extra). Usage::

    python tools/domain_stats.py lipnet-grid-s1 ../shared/data/grid --cache runs/cache \\
        --measurements /tmp/lipnet-grid-s1-train.npz

``--measurements FILE`` keeps the per-clip measurements: a second run reads them instead of the clips.

A colour model trained on clips made grey (its ``trained_on["greyscale"]`` above 0, as after ``lipread train``'s
grey fine-tune) gets a second set of statistics, measured on the training clips made grey, against which
black-and-white videos are judged (``DomainStats.grey``); ``--grey-measurements FILE`` keeps those
measurements.

A calibration fitted on the training clips assumes that the model reads unseen clips about as well as those. For the
model trained in two steps (shipped four before today's) that held well enough with its own decoder, grammar
(expected calibration error on the validation clips 0.041, raw 0.101; 0.038 and 0.089 for the 40-epoch model after
it, 0.038 and 0.045 for the warm restart after that, 0.030 and 0.050 for today's), but not with greedy or beam
search, whose raw confidences were closer on the validation clips (0.050 and 0.056) than calibrated ones (0.071 and
0.066): hence the default.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from lipread.config import DECODERS
from lipread.data.dataset import find_clips, split_clips
from lipread.models import SHIPPED
from lipread.progress import progress_bar
from lipread.transcription.domain import DomainStats, calibrate_confidence, expected_calibration_error
from lipread.transcription.domain_fit import (
    MeasuredClip,
    fit_statistics,
    load_measurements,
    measure_clips,
    save_measurements,
)
from lipread.transcription.transcriber import Transcriber
from lipread.video.notices import trained_on_grey
from lipread.weights import atomic_write


def _safetensors_parts(data: bytes) -> tuple[dict[str, Any], bytes]:
    """A safetensors file's header (as a dict, in its order) and the tensor bytes after it."""
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


def set_checkpoint_trained_on(path: Path, update: dict[str, Any]) -> None:
    """Merge ``update`` into a checkpoint's ``trained_on`` metadata, rewriting only the header."""
    data = path.read_bytes()
    header, body = _safetensors_parts(data)
    meta = header["__metadata__"]
    meta["trained_on"] = json.dumps({**json.loads(meta.get("trained_on", "{}")), **update})
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # safetensors keeps the tensor bytes 8-byte aligned
    new = len(text).to_bytes(8, "little") + text + body
    new_header, new_body = _safetensors_parts(new)
    if new_body != body or {k: v for k, v in new_header.items() if k != "__metadata__"} != {
        k: v for k, v in header.items() if k != "__metadata__"
    }:
        raise SystemExit(f"{path}: the rewritten file would not hold the same tensors; left unchanged")
    atomic_write(path, new)


def set_onnx_trained_on(path: Path, update: dict[str, Any]) -> None:
    """Merge ``update`` into an ONNX model's ``lipread_trained_on`` metadata; the graph stays byte-identical."""
    import onnx

    model = onnx.load(str(path))
    graph = model.graph.SerializeToString()
    props = {p.key: p for p in model.metadata_props}
    entry = props.get("lipread_trained_on")
    if entry is None:
        entry = model.metadata_props.add(key="lipread_trained_on", value="{}")
    entry.value = json.dumps({**json.loads(entry.value or "{}"), **update})
    data = model.SerializeToString()
    check = onnx.load_from_string(data)
    if check.graph.SerializeToString() != graph:
        raise SystemExit(f"{path}: the rewritten model would not have the same graph; left unchanged")
    atomic_write(path, data)


def write_statistics(paths: list[Path], stats: DomainStats) -> None:
    """Store ``stats`` as ``trained_on["domain"]`` in each file (a checkpoint or an ONNX model)."""
    update = {"domain": stats.to_json()}
    for path in paths:
        if path.suffix == ".onnx":
            set_onnx_trained_on(path, update)
        else:
            set_checkpoint_trained_on(path, update)


def measure(
    model: Path,
    data: Path,
    split: str,
    val_fraction: float,
    seed: int,
    cache: Path | None,
    workers: int,
    decoders: list[str] | None = None,
    grey: bool = False,
) -> list[MeasuredClip]:
    """Measure ``model`` on the training clips of ``data``'s split (made grey with ``grey``), the words read by
    each of ``decoders`` (default: the model's own)."""
    train, _ = split_clips(find_clips(data), split, val_fraction, seed)
    transcriber = Transcriber(str(model), workers=workers)
    if not decoders:
        decoders = [transcriber.decoder.name]
    with progress_bar(total=len(train), unit="clip") as bar:
        return measure_clips(transcriber, train, cache, workers, bar.update, decoders, grey)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="a shipped model's name, or a .safetensors / .onnx file (written in place)")
    p.add_argument("data", type=Path, help="the training data (a GRID folder, as lipread train reads)")
    p.add_argument("--also", type=Path, action="append", default=[], help="another file to write them into (repeat)")
    p.add_argument("--split", default="random", help="the split the model was trained with (default random)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="its held-out share (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="its seed (default 0)")
    p.add_argument("--cache", type=Path, help="crop cache folder, as lipread train --cache (default: none)")
    p.add_argument("--workers", type=int, default=2, help="threads decoding clips (default 2)")
    p.add_argument("--measurements", type=Path, help="read the measurements from this .npz, or save them there")
    p.add_argument("--no-calibration", action="store_true", help="keep the raw word confidences")
    p.add_argument("--decoders", nargs="+", choices=DECODERS, help="decoders to calibrate (default: the model's own)")
    p.add_argument("--grey-measurements", type=Path, help="as --measurements, for the clips made grey")
    args = p.parse_args(argv)
    if args.model in SHIPPED:
        shipped = SHIPPED[args.model]
        run_with = shipped.file("onnx")
        targets = [shipped.file(kind) for kind in ("checkpoint", "onnx", "int8") if shipped.has(kind)]
    else:
        run_with = Path(args.model)
        targets = [run_with]
    targets += args.also
    model = Transcriber(str(run_with))
    decoders = args.decoders or [model.decoder.name]  # the model's own
    reads_grey = model.config.channels == 3 and trained_on_grey(model.model)

    def measured_clips(grey: bool) -> list[MeasuredClip]:
        kept = args.grey_measurements if grey else args.measurements
        if kept is not None and kept.is_file():
            return load_measurements(kept)
        clips = measure(
            run_with, args.data, args.split, args.val_fraction, args.seed, args.cache, args.workers, decoders, grey
        )
        if kept is not None:
            save_measurements(kept, clips)
        return clips

    measured = measured_clips(grey=False)
    stats = fit_statistics(measured, calibrate=not args.no_calibration, decoders=decoders)
    report_grey = {}
    if reads_grey:
        measured_grey = measured_clips(grey=True)
        stats = dataclasses.replace(stats, grey=fit_statistics(measured_grey, calibrate=False))
        report_grey["training_clips_made_grey_flagged"] = sum(not stats.grey.judge(m.summary)[1] for m in measured_grey)
    write_statistics(targets, stats)
    flagged = sum(not stats.judge(m.summary)[1] for m in measured)
    ece = {}
    for name in sorted({name for m in measured for name in m.confidences}):
        raw = [c for m in measured for c in m.confidences[name]]
        hits = [h for m in measured for h in m.hits[name]]
        calibrated = [calibrate_confidence(c, stats.calibration(name)) for c in raw]
        ece[name] = {
            "raw": expected_calibration_error(raw, hits),
            "calibrated": expected_calibration_error(calibrated, hits),
        }
    report = {
        "written": [str(t) for t in targets],
        "training_clips": len(measured),
        "threshold": stats.threshold,
        "training_clips_flagged": flagged,
        **report_grey,
        "confidence_calibration": stats.confidence,
        "training_word_ece": ece,
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
