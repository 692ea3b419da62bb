"""Does a model know when it cannot read? The domain score and word confidences of the shipped model, measured.

Reads, through the same path as ``lipread transcribe`` (default decoder, default mouth locator):

- the speaker-1 validation clips of ``../shared/data/grid`` (the seed-0 random 10% the model never trained on:
  90 clips), which should come out ``in_domain``;
- every clip of another speaker there: the six ``mpg/*.mpg`` files of other speakers, and the 14 frame folders
  of ``faces/s4`` and ``faces/s5``, which should not; ``mpg/bbaf2n.mpg`` is speaker 1's (the original MPEG-1
  file of a clip the model trained on) and is shown on its own;
- the validation clips and the other speakers' clips made black and white (each frame's luma in all three
  channels): a model trained on clips made grey as well should read the first and flag the second, as in colour.

It prints the area under the ROC curve of ``domain_score`` (speaker-1 validation clips against the other
speakers' clips, ties counted half), the share of each group flagged (``in_domain`` false), and the expected
calibration error (10 bins) of the word confidences on the validation clips, raw and calibrated as the model's
metadata says. Targets: AUC >= 0.95, at most 2% of the validation clips flagged, calibrated ECE <= 0.05.
The statistics were fitted on the other 810 speaker-1 clips only (``tools/domain_stats.py``). There are only 20
clips of other speakers, so the AUC is a coarse figure: one of them ranked among the validation clips moves
it by up to 0.05.

Usage::

    python benchmarks/domain.py [--model lipnet-grid-s1] [--decoder grammar] [--workers 2] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from common import GRID, log, need_data

from lipread.data.augmentation import greyed
from lipread.data.dataset import find_clips, split_clips
from lipread.data.grid import sentence_from_name
from lipread.models import DEFAULT_MODEL
from lipread.transcription.domain import expected_calibration_error, word_hits
from lipread.transcription.transcriber import Transcriber
from lipread.video.reader import read_frames

TARGET_AUC = 0.95
TARGET_FLAGGED = 0.02
TARGET_ECE = 0.05


def other_speakers(grid: Path) -> list[Path]:
    """The clips of speakers other than 1: ``mpg/*.mpg`` but ``bbaf2n``, and the ``faces/s4``, ``faces/s5`` folders."""
    mpg = [p for p in sorted((grid / "mpg").glob("*.mpg")) if p.stem != "bbaf2n"]
    faces = [p for s in ("s4", "s5") for p in sorted((grid / "faces" / s).iterdir()) if p.is_dir()]
    return mpg + faces


def auc(inside: list[float], outside: list[float]) -> float:
    """P(score of an inside clip > score of an outside clip), ties counted half."""
    a, b = np.asarray(inside)[:, None], np.asarray(outside)[None, :]
    return float(((a > b).sum() + 0.5 * (a == b).sum()) / (a.size * b.size))


def measure(model: str, decoder: str | None, workers: int) -> dict[str, Any]:
    """Run the model over the three groups of clips and compute the figures (see the module docstring)."""
    _, val = split_clips(find_clips(GRID), "random", 0.1, 0)
    groups = {
        "validation": [(c.video, c.text) for c in val],
        "other speakers": [(p, sentence_from_name(p.name)) for p in other_speakers(GRID)],
        "speaker 1 mpg": [(GRID / "mpg" / "bbaf2n.mpg", sentence_from_name("bbaf2n"))],
    }
    groups["validation, black and white"] = groups["validation"]
    groups["other speakers, black and white"] = groups["other speakers"]
    calibrated = Transcriber(model, decoder=decoder)
    raw = Transcriber(calibrated.model, decoder=decoder)  # the same loaded model, without the calibration
    raw.domain = None
    out: dict[str, Any] = {"model": model, "decoder": calibrated.decoder.name, "groups": {}}
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for name, items in groups.items():
            log(f"{name}: {len(items)} clips")
            if name.endswith("black and white"):
                prepared = list(pool.map(lambda item: calibrated.prepare(greyed(read_frames(item[0])), 25.0), items))
            else:
                prepared = list(pool.map(lambda item: calibrated.prepare(item[0]), items))
            got = calibrated.run(prepared)
            plain = raw.run(prepared)
            hits = [h for (_, text), t in zip(items, got) for h in word_hits(text.split(), t.text.split())]
            out["groups"][name] = {
                "clips": len(items),
                "scores": [t.domain_score for t in got],
                "flagged": sum(t.in_domain is False for t in got),
                "in_domain": [t.in_domain for t in got],
                "ece_raw": expected_calibration_error([w.confidence for t in plain for w in t.words], hits),
                "ece_calibrated": expected_calibration_error([w.confidence for t in got for w in t.words], hits),
                "word_accuracy": float(np.mean(hits)) if hits else 0.0,
                "paths": [str(p.relative_to(GRID)) for p, _ in items],
            }
    g = out["groups"]
    if any(s is None for s in g["validation"]["scores"]):
        raise SystemExit(f"{model}: the model carries no domain statistics (run tools/domain_stats.py)")
    out["auc"] = auc(g["validation"]["scores"], g["other speakers"]["scores"])
    out["auc_grey"] = auc(g["validation, black and white"]["scores"], g["other speakers, black and white"]["scores"])
    return out


def markdown(r: dict[str, Any]) -> str:
    """The report as Markdown."""
    g = r["groups"]
    val, other = g["validation"], g["other speakers"]
    lines = [
        f"## Knowing when it cannot read: `{r['model']}`, decoder `{r['decoder']}`",
        "",
        f"- ROC AUC of the domain score, {val['clips']} speaker-1 validation clips against {other['clips']} clips "
        f"of other speakers: **{r['auc']:.3f}** (target >= {TARGET_AUC}; with {other['clips']} such clips, one "
        f"misranked clip costs up to {1 / other['clips']:.2f})",
        f"- The same, both groups made black and white: **{r['auc_grey']:.3f}**",
        "",
        "| clips | count | flagged | median score | word accuracy | ECE raw | ECE calibrated |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, e in g.items():
        lines.append(
            f"| {name} | {e['clips']} | {e['flagged']} ({100 * e['flagged'] / e['clips']:.1f}%) | "
            f"{float(np.median(e['scores'])):.3g} | {100 * e['word_accuracy']:.1f}% | {e['ece_raw']:.3f} | "
            f"{e['ece_calibrated']:.3f} |"
        )
    lines += [
        "",
        f"Targets: at most {100 * TARGET_FLAGGED:.0f}% of the validation clips flagged, validation ECE of the "
        f"calibrated word confidences <= {TARGET_ECE}.",
        "",
        "Highest scores of other speakers' clips: "
        + ", ".join(
            f"{p} {s:.2g}"
            for s, p in sorted(zip(other["scores"], other["paths"]), reverse=True)[:3]  # the nearest misses
        )
        + f"; lowest score of a validation clip: {min(val['scores']):.2g}.",
    ]
    grey = g["other speakers, black and white"]
    passed = [p for p, ok in zip(grey["paths"], grey["in_domain"]) if ok]
    if passed:
        lines.append(f"Other speakers' clips made black and white that pass: {', '.join(passed)}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"model name or file (default {DEFAULT_MODEL})")
    p.add_argument("--decoder", help="decoder (default: the model's own)")
    p.add_argument("--workers", type=int, default=2, help="threads decoding clips (default 2)")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = p.parse_args(argv)
    need_data()
    r = measure(args.model, args.decoder, args.workers)
    print(json.dumps(r, indent=2) if args.json else markdown(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
