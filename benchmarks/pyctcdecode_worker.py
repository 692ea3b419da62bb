"""Times pyctcdecode's beam search; run by ``ctc_decode.py`` inside pyctcdecode's own virtual environment.

pyctcdecode pins ``numpy < 2``, so it cannot share lipread's environment. ``ctc_decode.py`` writes the inputs
to an ``.npz`` file (arrays ``v{V}``: ``float32 (B, T, V)`` log-probabilities, blank = 0) and reads the JSON
this prints: ``{"V": {"B": {"W": [seconds per clip, one per round]}}}``. pyctcdecode decodes clip by clip, so
a batch's time per clip is measured on its first ``--most`` clips (default 8). Times are CPU time
(``--wall``: wall time).

Usage (inside the environment)::

    python pyctcdecode_worker.py INPUTS.npz --batches 1 32 --beams 10 100 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import logging
import time

import numpy as np


def labels(size: int) -> list[str]:
    """``size`` distinct labels, blank (``""``) first and a space second; the rest single characters."""
    chars = " abcdefghijklmnopqrstuvwxyz'?!123456789#$%&*+-/<=>@^_~"
    if size - 1 > len(chars):
        raise SystemExit(f"at most {len(chars) + 1} classes")
    return ["", *chars[: size - 1]]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("inputs")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    p.add_argument("--beams", type=int, nargs="+", default=[10, 100])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--wall", action="store_true", help="time by wall clock instead of CPU time")
    p.add_argument(
        "--most", type=int, default=8, help="decode at most this many clips of a batch (it goes clip by clip anyway)"
    )
    args = p.parse_args()
    logging.disable(logging.WARNING)  # "no language model" notices
    from pyctcdecode import build_ctcdecoder

    now = time.perf_counter if args.wall else time.process_time

    arrays = np.load(args.inputs)
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    for key in arrays.files:
        lp = arrays[key]
        decoder = build_ctcdecoder(labels(lp.shape[2]))
        out[str(lp.shape[2])] = per_batch = {}
        for b in args.batches:
            clips = [np.ascontiguousarray(lp[i]) for i in range(min(b, args.most))]
            per_batch[str(b)] = per_beam = {}
            for w in args.beams:
                for clip in clips[:2]:
                    decoder.decode(clip, beam_width=w)  # warm-up
                samples = []
                for _ in range(args.rounds):
                    start = now()
                    for clip in clips:
                        decoder.decode(clip, beam_width=w)
                    samples.append((now() - start) / len(clips))
                per_beam[str(w)] = samples
    print(json.dumps(out))


if __name__ == "__main__":
    main()
